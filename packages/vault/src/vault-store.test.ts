import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VaultStore, type VaultMessage } from './vault-store.js';

// Light KDF parameters keep the test quick; the default (64 MiB, 3 passes) is what a vault uses.
const kdf = { memoryCost: 8192, timeCost: 1 };
const me = 'alice@home.example';
const tmpFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-vault-')), 'vault.db');
const message = (from: string, to: string, text: string): VaultMessage => ({ id: crypto.randomUUID(), from, to, sentAt: new Date().toISOString(), text });
const fileBytes = (file: string) => Buffer.concat(fs.readdirSync(path.dirname(file)).map((f) => fs.readFileSync(path.join(path.dirname(file), f))));

describe('vault store (real SQLite, encrypted at rest)', () => {
  it('keeps history that only the passphrase opens: no text and no address in the file', async () => {
    const file = tmpFile();
    const store = await VaultStore.open({ file, passphrase: 'correct horse battery', kdf });
    const secret = `the spare key is under the blue pot ${crypto.randomUUID()}`;
    const messages = [message('bob@far.example', me, secret), message(me, 'bob@far.example', 'thanks!'), message('carol@elsewhere.example', me, 'hi alice')];
    expect(store.add(me, messages)).toBe(3);
    store.close();
    const bytes = fileBytes(file);
    for (const needle of [secret, 'blue pot', 'thanks!', 'bob@far.example', 'carol@elsewhere.example']) expect(bytes.includes(Buffer.from(needle))).toBe(false);

    const again = await VaultStore.open({ file, passphrase: 'correct horse battery' });
    expect(again.list(me).map((m) => m.text)).toEqual([secret, 'thanks!', 'hi alice']);
    expect(again.list(me, 'bob@far.example').map((m) => m.text)).toEqual([secret, 'thanks!']);
    expect(again.list(me, 'carol@elsewhere.example')).toHaveLength(1);
    again.close();
  });

  it('refuses a wrong passphrase with a clear error and changes nothing', async () => {
    const file = tmpFile();
    const store = await VaultStore.open({ file, passphrase: 'the right one', kdf });
    store.add(me, [message('bob@far.example', me, 'one')]);
    store.close();
    const before = fileBytes(file);
    await expect(VaultStore.open({ file, passphrase: 'the wrong one' })).rejects.toMatchObject({ code: 'wrong_passphrase', message: expect.stringMatching(/does not open this vault/) });
    expect(fileBytes(file).equals(before)).toBe(true);
    await expect(VaultStore.open({ file: tmpFile(), passphrase: 'short' })).rejects.toMatchObject({ code: 'weak_passphrase' });
  });

  it('stores each message once, however often it arrives', async () => {
    const store = await VaultStore.open({ file: tmpFile(), passphrase: 'once is enough', kdf });
    const batch = Array.from({ length: 50 }, (_, i) => message('bob@far.example', me, `m${i}`));
    expect(store.add(me, batch)).toBe(50);
    expect(store.add(me, [...batch.slice(0, 25), message('bob@far.example', me, 'new')])).toBe(1);
    expect(store.count()).toBe(51);
    store.close();
  });

  it('keeps its count right as messages are added, duplicates and all, as a fresh count finds', async () => {
    const file = tmpFile();
    const store = await VaultStore.open({ file, passphrase: 'counting along', kdf });
    expect(store.count()).toBe(0);
    const all = Array.from({ length: 40 }, (_, i) => message('bob@far.example', me, `c${i}`));
    store.add(me, all.slice(0, 30));
    store.add(me, all.slice(20)); // ten of these are stored already
    expect(store.count()).toBe(40);
    store.close();
    const again = await VaultStore.open({ file, passphrase: 'counting along', kdf });
    expect(again.count()).toBe(40);
    again.close();
  });

  it('detects a tampered or swapped row', async () => {
    const file = tmpFile();
    const store = await VaultStore.open({ file, passphrase: 'tamper evident', kdf });
    store.add(me, [message('bob@far.example', me, 'first'), message('bob@far.example', me, 'second')]);
    store.close();
    const { openDatabase } = await import('../../../tests/helpers/sqlite.js');
    const raw = openDatabase(file);
    raw.run('UPDATE messages SET body = (SELECT body FROM messages WHERE seq = 2), nonce = (SELECT nonce FROM messages WHERE seq = 2) WHERE seq = 1');
    raw.close();
    const reopened = await VaultStore.open({ file, passphrase: 'tamper evident' });
    expect(() => reopened.list(me)).toThrow(expect.objectContaining({ code: 'vault_damaged' }));
    reopened.close();
  });
});

describe('vault store pages and sealed settings', () => {
  it('pages history by sequence number, by conversation, and within a byte budget', async () => {
    const file = tmpFile();
    const store = await VaultStore.open({ file, passphrase: 'correct horse battery', kdf });
    const bob = Array.from({ length: 5 }, (_, i) => message('bob@far.example', me, `bob ${i} ${'x'.repeat(200)}`));
    const carol = Array.from({ length: 3 }, (_, i) => message('carol@elsewhere.example', me, `carol ${i}`));
    store.add(me, [...bob.slice(0, 3), ...carol, ...bob.slice(3)]);
    const first = store.page(me, { after: 0, limit: 4 });
    expect(first.messages.map((m) => m.text.slice(0, 7))).toEqual(['bob 0 x', 'bob 1 x', 'bob 2 x', 'carol 0']);
    const rest = store.page(me, { after: first.next!, limit: 100 });
    expect(rest.next).toBeNull();
    expect(rest.messages).toHaveLength(4);
    expect(store.page(me, { after: 0, limit: 100, peer: 'carol@elsewhere.example' }).messages.map((m) => m.text)).toEqual(['carol 0', 'carol 1', 'carol 2']);
    // A budget smaller than one message still returns one, so paging always moves on.
    const tight = store.page(me, { after: 0, limit: 100, maxBytes: 10 });
    expect(tight.messages).toHaveLength(1);
    expect(tight.next).toBe(tight.messages[0]!.seq);
    store.close();
  });

  it('keeps settings and keys sealed and bound to their names', async () => {
    const file = tmpFile();
    const store = await VaultStore.open({ file, passphrase: 'correct horse battery', kdf });
    store.setSecret('device', { secretKey: 'very-secret-device-key' });
    store.setSecret('contacts', { 'bob@far.example': 'key' });
    expect(store.getSecret('device')).toEqual({ secretKey: 'very-secret-device-key' });
    expect(store.getSecret('nothing')).toBeUndefined();
    store.close();
    expect(fileBytes(file).includes(Buffer.from('very-secret-device-key'))).toBe(false);
    // Swapping two sealed values is detected: each is bound to its name.
    const { openDatabase } = await import('../../../tests/helpers/sqlite.js');
    const raw = openDatabase(file);
    raw.run("UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'secret:device') WHERE key = 'secret:contacts'");
    raw.close();
    const again = await VaultStore.open({ file, passphrase: 'correct horse battery' });
    expect(() => again.getSecret('contacts')).toThrow(/damaged or was tampered with/);
    again.close();
  });
});
