import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  certifyDevice,
  checkDmSender,
  decryptDm,
  decryptKeyBackup,
  encryptDm,
  encryptKeyBackup,
  fingerprint,
  safetyNumber,
  signDmPlaintext,
  verifyDeviceCertificate,
  type DeviceRecord,
  type DeviceSecrets,
  type DmPlaintext,
} from './e2e.js';
import { fromBase64url, fromUtf8, toBase64url } from './encoding.js';
import { generateAgreementKeyPair, generateSigningKeyPair, nobleSigner, nobleVerify } from './keys.js';
import { linkProofBytes } from './link.js';
import type { DmCiphertext } from './messages.js';

const dir = path.join(import.meta.dirname, '../test-vectors');
const dm = JSON.parse(fs.readFileSync(path.join(dir, 'dm.json'), 'utf8')) as {
  recipient: { address: string; identityKey: { publicKey: string }; device: DeviceSecrets; record: DeviceRecord };
  sender: { address: string; identityKey: { publicKey: string; secretKey: string }; device: DeviceSecrets; record: DeviceRecord };
  plaintext: DmPlaintext;
  message: DmCiphertext;
  fingerprints: { bob: string; alice: string };
};
const link = JSON.parse(fs.readFileSync(path.join(dir, 'link-handshake.json'), 'utf8'));

function newDevice(id: string): DeviceSecrets {
  return { id, sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
}

describe('end-to-end encryption', () => {
  it('decrypts the test vector on both recipient devices and verifies the sender', () => {
    expect(decryptDm(dm.message, dm.recipient.device)).toEqual(dm.plaintext);
    expect(decryptDm(dm.message, dm.sender.device)).toEqual(dm.plaintext);
    const sender = { address: dm.sender.address, identityKey: dm.sender.identityKey.publicKey, devices: [dm.sender.record] };
    expect(checkDmSender(dm.plaintext, sender, { from: dm.sender.address, to: dm.recipient.address })).toBeNull();
  });

  it('reproduces the vector ciphertext from the same randomness', () => {
    let counter = 0x10;
    const random = (n: number) => new Uint8Array(n).fill(counter++);
    expect(encryptDm(dm.plaintext, [dm.recipient.record, dm.sender.record], random)).toEqual(dm.message);
  });

  it('matches the fingerprint and link-proof vectors', () => {
    expect(fingerprint(dm.recipient.address, dm.recipient.identityKey.publicKey)).toBe(dm.fingerprints.bob);
    expect(fromUtf8(linkProofBytes('server', link.client, link.server, link.clientNonce))).toBe(link.serverProofInput);
    expect(nobleVerify(linkProofBytes('server', link.client, link.server, link.clientNonce), fromBase64url(link.serverProof), link.serverKey.publicKey)).toBe(true);
    expect(nobleVerify(linkProofBytes('client', link.client, link.server, link.serverNonce), fromBase64url(link.clientProof), link.clientKey.publicKey)).toBe(true);
    expect(toBase64url(nobleSigner(link.clientKey).sign(linkProofBytes('client', link.client, link.server, link.serverNonce)))).toBe(link.clientProof);
  });

  it('round-trips to many devices; a non-recipient cannot decrypt', () => {
    const sender = newDevice('s');
    const recipients = Array.from({ length: 10 }, (_, i) => newDevice(`d${i}`));
    const plain = signDmPlaintext(sender, { id: 'm', from: 'a@x.org', to: 'b@y.org', sentAt: '2026-01-01T00:00:00.000Z', text: 'hello 👋' });
    const message = encryptDm(plain, recipients.map((d) => ({ id: d.id, dhKey: d.dh.publicKey })));
    for (const device of recipients) expect(decryptDm(message, device).text).toBe('hello 👋');
    expect(() => decryptDm(message, newDevice('stranger'))).toThrow(expect.objectContaining({ code: 'not_a_recipient' }));
    // A device whose id is listed but whose key is not the one encrypted to learns nothing.
    expect(() => decryptDm(message, { ...newDevice('d3') })).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
  });

  it('detects tampering with any part of the ciphertext', () => {
    const device = newDevice('d');
    const plain = signDmPlaintext(newDevice('s'), { id: 'm', from: 'a@x.org', to: 'b@y.org', sentAt: '2026-01-01T00:00:00.000Z', text: 'pay 10' });
    const message = encryptDm(plain, [{ id: 'd', dhKey: device.dh.publicKey }]);
    const flip = (text: string) => {
      const bytes = fromBase64url(text);
      bytes[0]! ^= 1;
      return toBase64url(bytes);
    };
    expect(() => decryptDm({ ...message, ciphertext: flip(message.ciphertext) }, device)).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
    expect(() => decryptDm({ ...message, nonce: flip(message.nonce) }, device)).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
    expect(() => decryptDm({ ...message, ephemeralKey: flip(message.ephemeralKey) }, device)).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
    const recipients = [{ ...message.recipients[0]!, wrappedKey: flip(message.recipients[0]!.wrappedKey) }];
    expect(() => decryptDm({ ...message, recipients }, device)).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
  });

  it('accepts a DM only from a device certified by the sender\'s identity key', () => {
    const identity = generateSigningKeyPair();
    const device = newDevice('good');
    const record = certifyDevice(identity, 'a@x.org', { id: device.id, signKey: device.sign.publicKey, dhKey: device.dh.publicKey });
    expect(verifyDeviceCertificate(identity.publicKey, 'a@x.org', record)).toBe(true);
    expect(verifyDeviceCertificate(identity.publicKey, 'a@other.org', record)).toBe(false);
    const rogue = newDevice('rogue');
    const rogueRecord = { id: rogue.id, signKey: rogue.sign.publicKey, dhKey: rogue.dh.publicKey, cert: record.cert };
    const peer = { address: 'a@x.org', identityKey: identity.publicKey, devices: [record, rogueRecord] };
    const body = { id: 'm', from: 'a@x.org', to: 'b@y.org', sentAt: '2026-01-01T00:00:00.000Z', text: 'hi' };
    expect(checkDmSender(signDmPlaintext(device, body), peer, { from: 'a@x.org', to: 'b@y.org' })).toBeNull();
    expect(checkDmSender(signDmPlaintext(rogue, body), peer, { from: 'a@x.org', to: 'b@y.org' })).toMatch(/not certified/);
    expect(checkDmSender(signDmPlaintext(device, body), peer, { from: 'c@x.org', to: 'b@y.org' })).toMatch(/claims to be from/);
    const forged = { ...signDmPlaintext(device, body), text: 'changed' };
    expect(checkDmSender(forged, peer, { from: 'a@x.org', to: 'b@y.org' })).toMatch(/does not verify/);
  });

  it('safety numbers are the same from both sides and change with the key', () => {
    const a = { address: 'a@x.org', identityKey: generateSigningKeyPair().publicKey };
    const b = { address: 'b@y.org', identityKey: generateSigningKeyPair().publicKey };
    expect(safetyNumber(a, b)).toBe(safetyNumber(b, a));
    expect(safetyNumber(a, b)).toMatch(/^(\d{5} ){11}\d{5}$/);
    expect(safetyNumber(a, { ...b, identityKey: generateSigningKeyPair().publicKey })).not.toBe(safetyNumber(a, b));
  });

  it('key backup opens with the password only', () => {
    const secret = new Uint8Array(32).fill(9);
    const backup = encryptKeyBackup(secret, 'correct horse', { N: 2 ** 10, r: 8, p: 1 });
    expect(decryptKeyBackup(backup, 'correct horse')).toEqual(secret);
    expect(() => decryptKeyBackup(backup, 'wrong horse')).toThrow(expect.objectContaining({ code: 'wrong_password' }));
    expect(() => decryptKeyBackup({ ...backup, N: 2 ** 30 }, 'correct horse')).toThrow(expect.objectContaining({ code: 'invalid_backup' }));
  });
});
