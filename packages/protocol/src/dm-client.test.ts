import { describe, expect, it } from 'vitest';
import { dmBatches, listDms, type DmApi, type MyDevice, type PinStore } from './dm-client.js';
import { LIMITS } from './limits.js';
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

describe('splitting sealed DMs into batch requests', () => {
  const sealed = (bytes: number) => ({ message: { alg: 'x25519-hkdf-sha256-xchacha20poly1305' as const, ephemeralKey: 'k', nonce: 'n', ciphertext: 'c'.repeat(bytes), recipients: [] } });

  it('keeps the order, and puts at most LIMITS.dmBatch messages in a request', () => {
    const messages = Array.from({ length: 250 }, (_, i) => ({ ...sealed(10), i }));
    const batches = dmBatches(messages);
    expect(batches.map((b) => b.length)).toEqual([LIMITS.dmBatch, LIMITS.dmBatch, 50]);
    expect(batches.flat().map((m) => m.i)).toEqual(messages.map((m) => m.i));
  });

  it('keeps each request under LIMITS.dmBatchBytes, and still sends a message that fills a request alone', () => {
    const big = Array.from({ length: 40 }, () => sealed(60_000));
    const batches = dmBatches(big);
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) expect(JSON.stringify({ messages: batch.map((m) => ({ to: 'bob@example.com', message: m.message })) }).length).toBeLessThanOrEqual(LIMITS.dmBatchBytes);
    expect(batches.flat()).toHaveLength(40);
    expect(dmBatches([sealed(LIMITS.dmBatchBytes)])).toHaveLength(1);
    expect(dmBatches([])).toEqual([]);
  });
});
