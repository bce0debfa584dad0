import { describe, expect, it } from 'vitest';
import { decryptDm, encryptDm, signDmPlaintext, type DeviceSecrets } from './e2e.js';
import { fromBase64url, toBase64url } from './encoding.js';
import { generateAgreementKeyPair, generateSigningKeyPair } from './keys.js';
import { nodeX25519 } from './node-crypto.js';
import { HistoryRequestSchema, openFromDevice, sealForDevice, VaultClientFrameSchema, VaultServerFrameSchema, type HistoryRequest } from './vault.js';

const device = (id: string): DeviceSecrets => ({ id, sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() });
const phone = device('phone-0001');
const vault = device('vault-0001');
const stranger = device('stranger-1');
const record = (d: DeviceSecrets) => ({ id: d.id, dhKey: d.dh.publicKey });
const keysOf = (...devices: DeviceSecrets[]) => (id: string) => devices.find((d) => d.id === id)?.sign.publicKey;
const request: HistoryRequest = { kind: 'history', after: 0, limit: 50 };

describe('sealed requests between a device and its vault', () => {
  it('open for the device they were sealed to, signed by the device that sent them', () => {
    const sealed = sealForDevice(phone, record(vault), 'r1', request);
    const opened = openFromDevice(sealed, vault, HistoryRequestSchema, keysOf(phone));
    expect(opened).toMatchObject({ rid: 'r1', fromDevice: phone.id, body: request });
  });

  it('refuse another device, an unknown sender, a forged sender and any changed byte', () => {
    const sealed = sealForDevice(phone, record(vault), 'r1', request);
    expect(() => openFromDevice(sealed, stranger, HistoryRequestSchema, keysOf(phone))).toThrow(/not encrypted to this device/);
    expect(() => openFromDevice(sealed, vault, HistoryRequestSchema, keysOf())).toThrow(/not a certified device/);
    // The stranger claims to be the phone: the phone's key does not verify its signature.
    const forged = sealForDevice({ ...stranger, id: phone.id }, record(vault), 'r1', request);
    expect(() => openFromDevice(forged, vault, HistoryRequestSchema, keysOf(phone))).toThrow(/signature that does not verify/);
    const bytes = fromBase64url(sealed.ciphertext);
    bytes[10]! ^= 1;
    expect(() => openFromDevice({ ...sealed, ciphertext: toBase64url(bytes) }, vault, HistoryRequestSchema, keysOf(phone))).toThrow(/tampered/);
  });

  it('never open as a DM, nor a DM as a vault message (separate domains)', () => {
    const sealed = sealForDevice(phone, record(vault), 'r1', request);
    expect(() => decryptDm(sealed, vault)).toThrow(/could not be decrypted/);
    const dm = encryptDm(signDmPlaintext(phone, { id: 'm1', from: 'a@x.example', to: 'b@y.example', sentAt: new Date().toISOString(), text: 'hi' }), [record(vault)], undefined, nodeX25519);
    expect(decryptDm(dm, vault, nodeX25519).text).toBe('hi');
    expect(() => openFromDevice(dm, vault, HistoryRequestSchema, keysOf(phone))).toThrow(/could not be decrypted/);
  });

  it('reject a body of the wrong shape even when sealed and signed correctly', () => {
    const sealed = sealForDevice(phone, record(vault), 'r1', { kind: 'history', after: -1, limit: 5000 });
    expect(() => openFromDevice(sealed, vault, HistoryRequestSchema, keysOf(phone))).toThrow(/wrong shape/);
  });
});

describe('vault link frames', () => {
  it('accept the frames of the protocol and nothing else', () => {
    expect(VaultClientFrameSchema.safeParse({ t: 'ack', seqs: [1, 2, 3] }).success).toBe(true);
    expect(VaultClientFrameSchema.safeParse({ t: 'ack', seqs: [0] }).success).toBe(false);
    expect(VaultClientFrameSchema.safeParse({ t: 'ack', seqs: [1], extra: true }).success).toBe(false);
    expect(VaultClientFrameSchema.safeParse({ t: 'hello', device: 'v1', sig: 'x' }).success).toBe(false);
    expect(VaultClientFrameSchema.safeParse({ t: 'dm', seq: 1 }).success).toBe(false); // only the server sends DMs
    expect(VaultServerFrameSchema.safeParse({ t: 'challenge', nonce: 'A'.repeat(43) }).success).toBe(true);
    expect(VaultServerFrameSchema.safeParse({ t: 'ack', seqs: [1] }).success).toBe(false);
  });
});
