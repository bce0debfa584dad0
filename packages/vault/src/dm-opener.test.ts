import { encryptDm, generateAgreementKeyPair, generateSigningKeyPair, signDmPlaintext, type DeviceSecrets } from '@hearth/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { DmOpener } from './dm-opener.js';
import type { OpenJob } from './dm-open.js';

// The threads run the compiled worker (npm test builds first): vitest's TypeScript does not reach a worker thread.
const WORKER = new URL('../dist/open-worker.js', import.meta.url);
const device = (id: string): DeviceSecrets => ({ id, sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() });
const vault = device('vault');
const bob = device('bob-phone');
const mallory = device('mallory');

function dm(sender: DeviceSecrets, text: string) {
  const plain = signDmPlaintext(sender, { id: crypto.randomUUID(), from: 'bob@far.example', to: 'alice@home.example', sentAt: new Date().toISOString(), text });
  return encryptDm(plain, [{ id: vault.id, dhKey: vault.dh.publicKey }]);
}

const openers: DmOpener[] = [];
const opener = (threads: number, idleStopMs?: number) => {
  const made = new DmOpener(vault, { threads, workerFile: WORKER, ...(idleStopMs ? { idleStopMs } : {}) });
  openers.push(made);
  return made;
};
afterEach(async () => {
  await Promise.all(openers.splice(0).map((o) => o.close()));
});

describe('DmOpener: the vault opens queued DMs on worker threads', () => {
  const keys = new Map([[bob.id, bob.sign.publicKey]]);
  const jobs = (): OpenJob[] => {
    const genuine = Array.from({ length: 40 }, (_, i) => ({ message: dm(bob, `message ${i}`), signKeys: keys }));
    const tampered = dm(bob, 'tampered');
    tampered.ciphertext = tampered.ciphertext.slice(0, -2) + (tampered.ciphertext.endsWith('AA') ? 'BA' : 'AA');
    const notForMe = encryptDm(signDmPlaintext(bob, { id: 'x', from: 'bob@far.example', to: 'carol@x.example', sentAt: new Date().toISOString(), text: 'hi' }), [{ id: 'carol-phone', dhKey: generateAgreementKeyPair().publicKey }]);
    return [
      ...genuine.slice(0, 20),
      { message: tampered, signKeys: keys },
      // Signed by a device whose key is not bob's: the verdict under bob's key is false.
      { message: dm({ ...mallory, id: bob.id }, 'forged'), signKeys: keys },
      // No keys known yet: opened, the signature left to the caller.
      { message: dm(bob, 'first from bob') },
      { message: notForMe },
      ...genuine.slice(20),
    ];
  };

  it('gives what opening in place gives, in the jobs order, with two threads', async () => {
    const batch = jobs();
    const threaded = opener(2);
    expect(threaded.threads).toBe(0); // threads start with the first large batch
    const [inThreads, inPlace] = [await threaded.open(batch), await opener(0).open(batch)];
    expect(threaded.threads).toBe(2);
    expect(inThreads).toEqual(inPlace);
    expect(inThreads).toHaveLength(batch.length);
    expect(inThreads.slice(0, 20).map((r) => ('plain' in r ? r.plain.text : r))).toEqual(Array.from({ length: 20 }, (_, i) => `message ${i}`));
    expect(inThreads.slice(0, 20).every((r) => 'plain' in r && r.verified?.ok === true && r.verified.signKey === bob.sign.publicKey)).toBe(true);
    expect(inThreads[20]).toEqual({ error: { code: 'decrypt_failed', message: expect.stringMatching(/could not be decrypted/) } });
    expect(inThreads[21]).toMatchObject({ plain: { text: 'forged' }, verified: { signKey: bob.sign.publicKey, ok: false } });
    expect(inThreads[22]).toMatchObject({ plain: { text: 'first from bob' } });
    expect(inThreads[22]).not.toHaveProperty('verified');
    expect(inThreads[23]).toEqual({ error: { code: 'not_a_recipient', message: expect.any(String) } });
  });

  it('opens a few DMs in place, stops idle threads and starts them again, and opens in place once closed', async () => {
    const threaded = opener(2, 200);
    expect(await threaded.open([])).toEqual([]);
    expect(await threaded.open([{ message: dm(bob, 'one as it comes'), signKeys: keys }])).toMatchObject([{ plain: { text: 'one as it comes' }, verified: { ok: true } }]);
    expect(threaded.threads).toBe(0);
    expect(await threaded.open(jobs())).toHaveLength(jobs().length);
    expect(threaded.threads).toBe(2);
    await waitUntil(() => threaded.threads === 0);
    expect((await threaded.open(jobs()))[0]).toMatchObject({ plain: { text: 'message 0' } });
    expect(threaded.threads).toBe(2);
    await threaded.close();
    expect(threaded.threads).toBe(0);
    expect((await threaded.open(jobs()))[0]).toMatchObject({ plain: { text: 'message 0' }, verified: { ok: true } });
    expect(threaded.threads).toBe(0);
  });

  it('fails the batch of a thread that cannot start, and opens the next batches in place', async () => {
    const broken = new DmOpener(vault, { threads: 1, workerFile: new URL('./no-such-worker.js', WORKER) });
    openers.push(broken);
    await expect(broken.open(jobs())).rejects.toThrow();
    expect(broken.threads).toBe(0);
    expect((await broken.open(jobs()))[0]).toMatchObject({ plain: { text: 'message 0' } });
    expect(broken.threads).toBe(0);
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in 20 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
