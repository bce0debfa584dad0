import { describe, expect, it } from 'vitest';
import { listDms, type DmApi, type MyDevice, type PinStore } from './dm-client.js';
import { certifyDevice, encryptDm, signDmPlaintext } from './e2e.js';
import { newEnvelopeId } from './envelope.js';
import { generateAgreementKeyPair, generateSigningKeyPair } from './keys.js';

describe('listing DMs on a device', () => {
  it('shows a message once, even when a backend replays it under another envelope id', async () => {
    const bob: MyDevice = { address: 'bob@b.example', identity: generateSigningKeyPair(), device: { id: 'bob-phone', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() } };
    const aliceIdentity = generateSigningKeyPair();
    const aliceDevice = { id: 'alice-laptop', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    const aliceRecord = certifyDevice(aliceIdentity, 'alice@a.example', { id: aliceDevice.id, signKey: aliceDevice.sign.publicKey, dhKey: aliceDevice.dh.publicKey });
    const plain = signDmPlaintext(aliceDevice, { id: newEnvelopeId(), from: 'alice@a.example', to: bob.address, sentAt: new Date().toISOString(), text: 'only once' });
    const message = encryptDm(plain, [{ id: bob.device.id, dhKey: bob.device.dh.publicKey }]);
    const item = (seq: number, id: string) => ({ seq, id, direction: 'in' as const, peer: 'alice@a.example', message });
    const api: DmApi = {
      get: async <T>(path: string) => {
        if (path.startsWith('/api/dms')) return { items: [item(1, newEnvelopeId()), item(2, newEnvelopeId())], next: null } as T;
        if (path.startsWith('/api/lookup')) return { address: 'alice@a.example', identityKey: aliceIdentity.publicKey, devices: [aliceRecord] } as T;
        throw new Error(`unexpected GET ${path}`);
      },
      post: async () => {
        throw new Error('no posts here');
      },
      put: async () => {
        throw new Error('no puts here');
      },
    };
    const pins = new Map<string, string>();
    const pinStore: PinStore = { get: async (a) => pins.get(a), set: async (a, k) => void pins.set(a, k) };
    const result = await listDms(api, pinStore, bob);
    expect(result.messages.map((m) => m.text)).toEqual(['only once']);
    expect(result.messages[0]!.id).toBe(plain.id);
  });
});
