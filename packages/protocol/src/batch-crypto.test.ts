import { describe, expect, it } from 'vitest';
import { webCryptoBatch } from './batch-crypto.js';
import { listDms, type DmApi, type MyDevice, type PinStore } from './dm-client.js';
import { certifyDevice, encryptDm, signDmPlaintext, type DmPlaintext } from './e2e.js';
import { newEnvelopeId } from './envelope.js';
import { generateAgreementKeyPair, generateSigningKeyPair } from './keys.js';
import type { DmCiphertext } from './messages.js';

describe('reading a page of DMs with the runtime\'s WebCrypto', () => {
  it('accepts and refuses exactly what @noble alone does', async () => {
    const batch = await webCryptoBatch();
    expect(batch).toBeDefined(); // Node 20+ has Ed25519 and X25519 in WebCrypto, as Chromium does
    const bob: MyDevice = { address: 'bob@b.example', identity: generateSigningKeyPair(), device: { id: 'bob-phone', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() } };
    const to = [{ id: bob.device.id, dhKey: bob.device.dh.publicKey }];
    const aliceIdentity = generateSigningKeyPair();
    const laptop = { id: 'alice-laptop', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    const stranger = { id: 'alice-uncertified', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    const laptopRecord = certifyDevice(aliceIdentity, 'alice@a.example', { id: laptop.id, signKey: laptop.sign.publicKey, dhKey: laptop.dh.publicKey });
    // Listed but certified by another identity key: not one of alice's devices.
    const strangerRecord = certifyDevice(generateSigningKeyPair(), 'alice@a.example', { id: stranger.id, signKey: stranger.sign.publicKey, dhKey: stranger.dh.publicKey });
    const plain = (text: string, device = laptop) => signDmPlaintext(device, { id: newEnvelopeId(), from: 'alice@a.example', to: bob.address, sentAt: new Date().toISOString(), text });
    const good = plain('hello');
    const copied: DmPlaintext = { ...plain('pay mallory'), sig: good.sig }; // a valid signature, of another message
    const messages: Array<[string, DmCiphertext]> = [
      ['good', encryptDm(good, to)],
      ['second', encryptDm(plain('second'), to)],
      ['copied', encryptDm(copied, to)],
      ['uncertified', encryptDm(plain('from a device alice never certified', stranger), to)],
      ['not for me', encryptDm(plain('for another device'), [{ id: 'other', dhKey: generateAgreementKeyPair().publicKey }, { id: bob.device.id, dhKey: generateAgreementKeyPair().publicKey }])],
    ];
    const tampered = encryptDm(plain('tampered'), to);
    const body = Buffer.from(tampered.ciphertext, 'base64url');
    body[3]! ^= 1;
    messages.push(['tampered', { ...tampered, ciphertext: body.toString('base64url') }]);
    const items = messages.map(([id, message], i) => ({ seq: i + 1, id, direction: 'in' as const, peer: 'alice@a.example', message }));
    const api: DmApi = {
      get: async <T>(path: string) => {
        if (path.startsWith('/api/dms')) return { items, next: null } as T;
        if (path.startsWith('/api/lookup')) return { address: 'alice@a.example', identityKey: aliceIdentity.publicKey, devices: [laptopRecord, strangerRecord] } as T;
        throw new Error(`unexpected GET ${path}`);
      },
      post: async () => Promise.reject(new Error('no posts here')),
      put: async () => Promise.reject(new Error('no puts here')),
    };
    const pinStore = (): PinStore => {
      const pins = new Map<string, string>();
      return { get: async (a) => pins.get(a), set: async (a, k) => void pins.set(a, k) };
    };
    const plainResult = await listDms(api, pinStore(), bob);
    const batchResult = await listDms(api, pinStore(), bob, undefined, { batch });
    expect(batchResult).toEqual(plainResult);
    expect(batchResult.messages.map((m) => m.text).sort()).toEqual(['hello', 'second']);
    expect(batchResult.rejected.map((r) => r.id).sort()).toEqual(['copied', 'not for me', 'tampered', 'uncertified']);
  });
});
