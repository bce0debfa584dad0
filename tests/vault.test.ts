import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { vaultHistory, vaultLinkProofBytes, type DmApi } from '@hearth/protocol';
import { nodeSigner } from '@hearth/protocol/node';
import { openVault, vaultSecrets } from '@hearth/vault';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hearth, SiteProcess, tempDir, waitFor } from './helpers/sites.js';
import { DmSender, pairingCode, VAULT_PASSPHRASE, VaultProcess, vaultStatus } from './helpers/vault.js';

/**
 * The home vault with real processes: two sites (alice and carol share one backend, bob has his
 * own), a real `hearth vault start` for alice, DMs sent by bob's device through bob's site.
 */
describe('home vault', { timeout: 120_000 }, () => {
  let home: SiteProcess;
  let bobSite: SiteProcess;
  let vault: VaultProcess;
  let bob: DmSender;
  let alice: string;
  const texts = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag} ${i} ${crypto.randomUUID()}`);

  beforeAll(async () => {
    [home, bobSite] = await Promise.all([SiteProcess.create(['alice', 'carol']), SiteProcess.create(['bob'])]);
    alice = home.address('alice');
    vault = await VaultProcess.pair(home, 'alice');
    bob = await DmSender.create(bobSite, 'bob');
  });
  afterAll(async () => {
    await Promise.all([vault?.destroy(), home?.destroy(), bobSite?.destroy()]);
  });
  afterEach(async () => {
    await vault?.stop(); // each test starts the vault it needs
  });

  const waitUntilDrained = (user = 'alice', timeoutMs = 60_000) =>
    waitFor(`${user}'s vault queue to drain`, async () => {
      const status = await vaultStatus(home, user);
      return status.online && status.waiting === 0 ? status : undefined;
    }, timeoutMs);
  const waitUntilQueued = (n: number) => waitFor(`${n} DMs queued for the vault`, async () => ((await vaultStatus(home, 'alice')).waiting === n ? true : undefined), 60_000);

  it('pairing: the settings show the vault; a wrong or reused code is refused and leaves nothing behind', async () => {
    const status = await vaultStatus(home, 'alice');
    expect(status).toMatchObject({ paired: true, online: false, waiting: 0 });
    expect(status.deviceId).toMatch(/^vault-/);
    // The vault is one of alice's certified devices, so senders encrypt to it.
    const me = (await home.api('GET', '/api/me', { as: 'alice' })).body as { devices: Array<{ id: string }> };
    expect(me.devices.map((d) => d.id)).toContain(status.deviceId);

    const wrongDir = tempDir('vault-wrong');
    const wrong = await hearth(['vault', 'pair', '--data', wrongDir, '--site', home.url, '--code', 'ABCDE-FGHJK-MNPQR-STVWX', '--password', SiteProcess.password('alice')], {
      allowFailure: true,
      env: { HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/pairing code is wrong, expired or already used/);
    expect(fs.readdirSync(wrongDir)).toEqual([]);

    // A code works once: a second vault with the same code is refused, and the first stays paired.
    const code = await pairingCode(home, 'carol');
    const carolDir = tempDir('vault-carol');
    await hearth(['vault', 'pair', '--data', carolDir, '--site', home.url, '--code', code, '--password', SiteProcess.password('carol')], { env: { HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE } });
    const reuse = await hearth(['vault', 'pair', '--data', tempDir('vault-reuse'), '--site', home.url, '--code', code, '--password', SiteProcess.password('carol')], {
      allowFailure: true,
      env: { HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE },
    });
    expect(reuse.code).toBe(1);
    expect(reuse.stderr).toMatch(/already used/);
    expect((await vaultStatus(home, 'carol')).paired).toBe(true);
    expect(home.count('select count(*) as n from vaults')).toBe(2);

    // A code of mine with someone else's password cannot open my identity key: no device is added.
    const devicesBefore = home.count("select count(*) as n from devices where username = 'alice'");
    const stolen = await hearth(['vault', 'pair', '--data', tempDir('vault-stolen'), '--site', home.url, '--code', await pairingCode(home, 'alice'), '--password', SiteProcess.password('carol')], {
      allowFailure: true,
      env: { HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE },
    });
    expect(stolen.code).toBe(1);
    expect(stolen.stderr).toMatch(/password does not open your key backup/);
    expect(home.count("select count(*) as n from devices where username = 'alice'")).toBe(devicesBefore);
    expect((await vaultStatus(home, 'alice')).deviceId).toBe(status.deviceId);
    fs.rmSync(carolDir, { recursive: true, force: true });
  });

  it("another user's vault on the same backend cannot open my vault's link or read my queue", async () => {
    const carolVault = await VaultProcess.pair(home, 'carol');
    await bob.send(alice, texts(3, 'for alice only'));
    await waitUntilQueued(3);
    carolVault.start();
    await waitFor('carol\'s vault online', async () => (await vaultStatus(home, 'carol')).online);
    const store = await openVault(carolVault.dir, VAULT_PASSPHRASE);
    const carolKeys = vaultSecrets(store, carolVault.dir);
    store.close();
    // Carol's vault key signing for alice's vault device id: refused, and the link closes with 4003.
    const aliceVaultId = (await vaultStatus(home, 'alice')).deviceId!;
    const closed = await new Promise<{ code: number; frames: string[] }>((resolve) => {
      const socket = new WebSocket(`${home.url.replace('http', 'ws')}/api/vault/link`);
      const frames: string[] = [];
      socket.on('message', (data: Buffer) => {
        frames.push(data.toString());
        const frame = JSON.parse(data.toString()) as { t: string; nonce: string };
        if (frame.t !== 'challenge') return;
        const sig = Buffer.from(nodeSigner(carolKeys.device.sign).sign(vaultLinkProofBytes(carolKeys.config.origin, frame.nonce, aliceVaultId))).toString('base64url');
        socket.send(JSON.stringify({ t: 'hello', device: aliceVaultId, sig }));
      });
      socket.on('close', (code) => resolve({ code, frames }));
    });
    expect(closed.code).toBe(4003);
    expect(closed.frames.map((f) => JSON.parse(f).t)).toEqual(['challenge']);
    expect((await vaultStatus(home, 'alice')).waiting).toBe(3);
    await carolVault.stop();
    expect(await carolVault.messages()).toEqual([]);
    await carolVault.destroy();
  });

  it('1,000 DMs that arrive while the vault is offline reach it exactly once, and no database holds their plaintext', async () => {
    const sent = texts(1000, 'offline batch');
    await bob.send(alice, sent);
    await waitUntilQueued(1003);
    vault.start();
    await waitUntilDrained();
    await vault.stop();
    const stored = await vault.messages(bobSite.address('bob'));
    expect(stored).toHaveLength(1003);
    expect(new Set(stored.map((m) => m.id)).size).toBe(1003);
    expect(new Set(stored.map((m) => m.text))).toEqual(new Set([...sent, ...stored.filter((m) => m.text.startsWith('for alice only')).map((m) => m.text)]));
    expect(stored.every((m) => m.from === bobSite.address('bob') && m.to === alice)).toBe(true);
    // Acked means deleted: the backend keeps no copy for the vault.
    expect(home.count("select count(*) as n from vault_queue where username = 'alice'")).toBe(0);
    const backend = home.databaseBytes();
    const vaultFiles = vault.fileBytes();
    for (const text of [sent[0]!, sent[500]!, sent[999]!]) {
      expect(backend.includes(Buffer.from(text))).toBe(false);
      expect(vaultFiles.includes(Buffer.from(text))).toBe(false);
    }
    expect(vaultFiles.includes(Buffer.from('offline batch'))).toBe(false);
    expect(vaultFiles.includes(Buffer.from(bobSite.address('bob')))).toBe(false);
  });

  it('a vault killed with kill -9 mid-sync loses nothing and duplicates nothing after a restart', async () => {
    const before = (await vault.messages()).length;
    const sent = texts(1500, 'crash batch');
    await bob.send(alice, sent);
    await waitUntilQueued(1500);
    vault.log = '';
    vault.start();
    await waitFor('the first synced batch', () => /Synced: \d+ message/.test(vault.log), 30_000, 2);
    await vault.stop('SIGKILL');
    // The acks of the synced batch were sent before the kill; the backend may still be deleting what they name.
    const left = await waitFor('the acked batch gone from the queue', async () => {
      const waiting = (await vaultStatus(home, 'alice')).waiting!;
      return waiting < 1500 ? waiting : undefined;
    }, 10_000);
    expect(left).toBeGreaterThan(0); // really mid-sync
    vault.start();
    await waitUntilDrained();
    await vault.stop();
    const stored = await vault.messages();
    expect(stored).toHaveLength(before + 1500);
    expect(new Set(stored.map((m) => m.id)).size).toBe(before + 1500);
    const crash = stored.filter((m) => m.text.startsWith('crash batch'));
    expect(new Set(crash.map((m) => m.text))).toEqual(new Set(sent));
  });

  it("a backend restart (even kill -9) keeps the vault's queue", async () => {
    const before = (await vault.messages()).length;
    const sent = texts(200, 'restart batch');
    await bob.send(alice, sent);
    await waitUntilQueued(200);
    await home.stop('SIGKILL');
    await home.start();
    expect((await vaultStatus(home, 'alice')).waiting).toBe(200);
    vault.start();
    await waitUntilDrained();
    // The vault stays up while its backend restarts, and reconnects by itself.
    vault.log = '';
    await home.stop();
    await home.start();
    await waitFor('the vault to reconnect', async () => (await vaultStatus(home, 'alice')).online, 30_000);
    expect(vault.log).toMatch(/Link to .* lost .*retrying in/);
    await bob.send(alice, ['sent after the restart']);
    await waitFor('the DM after the restart', async () => (await vault.messages()).length === before + 201, 30_000);
    await vault.stop();
    const stored = await vault.messages();
    expect(stored.some((m) => m.text === 'sent after the restart')).toBe(true);
  });

  it('my own sent DMs are kept too, and a new device gets the whole history from the vault, sealed end to end', async () => {
    const aliceDevice = tempDir('alice-device');
    await hearth(['login', '--profile', aliceDevice, '--site', home.url, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    const reply = `a reply from alice ${crypto.randomUUID()}`;
    await hearth(['dm', 'send', '--profile', aliceDevice, bobSite.address('bob'), reply]);
    vault.start();
    await waitFor('the reply in the vault', async () => (await vaultStatus(home, 'alice')).online && (await vaultStatus(home, 'alice')).waiting === 0);
    const newDevice = tempDir('alice-new-device');
    await hearth(['login', '--profile', newDevice, '--site', home.url, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    // The new device cannot decrypt older messages itself: they were not encrypted to it.
    expect(JSON.parse((await hearth(['dm', 'list', '--profile', newDevice, '--json'])).stdout).messages).toEqual([]);
    const history = JSON.parse((await hearth(['dm', 'list', '--profile', newDevice, '--vault', '--json'])).stdout) as { messages: Array<{ from: string; text: string }> };
    const inVault = await vault.messages();
    expect(history.messages).toHaveLength(inVault.length);
    expect(history.messages.some((m) => m.from === alice && m.text === reply)).toBe(true);
    expect(vault.log).toMatch(/Sent \d+ message\(s\) of history to device/);
    // Only the conversation asked for, and the relay never held plaintext.
    const only = JSON.parse((await hearth(['dm', 'list', '--profile', newDevice, '--vault', '--with', bobSite.address('bob'), '--json'])).stdout) as { messages: unknown[] };
    expect(only.messages).toHaveLength(inVault.length);
    expect(home.databaseBytes().includes(Buffer.from(reply))).toBe(false);
    // A device that read the history before asks only for what it has not read (a browser's kept copy).
    const profile = JSON.parse(fs.readFileSync(path.join(newDevice, 'profile.json'), 'utf8'));
    const request = async (method: string, urlPath: string, body?: unknown) => {
      const res = await fetch(`${home.url}${urlPath}`, { method, headers: { authorization: `Bearer ${profile.token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      if (!res.ok) throw new Error(`${method} ${urlPath}: ${res.status}`);
      return res.json();
    };
    const client: DmApi = { get: (p) => request('GET', p), post: (p, b) => request('POST', p, b), put: (p, b) => request('PUT', p, b) };
    const me = { address: profile.address, identity: profile.identity, device: profile.device };
    const all = await vaultHistory(client, me);
    expect(all.messages).toHaveLength(inVault.length);
    const none = await vaultHistory(client, me, { after: all.lastSeq, vaultId: all.vaultId });
    expect(none).toEqual({ messages: [], vaultId: all.vaultId, lastSeq: all.lastSeq });
    const later = `one more from bob ${crypto.randomUUID()}`;
    await bob.send(alice, [later]);
    await waitFor('the new DM in the vault', async () => (await vaultStatus(home, 'alice')).waiting === 0 && (await vaultHistory(client, me, { after: all.lastSeq, vaultId: all.vaultId })).messages.length > 0);
    const newer = await vaultHistory(client, me, { after: all.lastSeq, vaultId: all.vaultId });
    expect(newer.messages.map((m) => m.text)).toEqual([later]);
    // A place in another vault's numbering is not trusted: everything is read again.
    expect((await vaultHistory(client, me, { after: newer.lastSeq, vaultId: 'another-vault' })).messages).toHaveLength(inVault.length + 1);
    await vault.stop();
    // With the vault offline, the relay says so.
    const offline = await hearth(['dm', 'list', '--profile', newDevice, '--vault'], { allowFailure: true });
    expect(offline.code).toBe(1);
    expect(offline.stderr).toMatch(/vault is not connected/);
  });

  it('a wrong passphrase gets a clear error and changes nothing; export and import restore the vault elsewhere', async () => {
    const bytes = vault.fileBytes();
    const wrong = await hearth(['vault', 'messages', '--data', vault.dir], { allowFailure: true, env: { HEARTH_VAULT_PASSPHRASE: 'not the passphrase' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/passphrase does not open this vault; nothing was changed/);
    const wrongStart = await hearth(['vault', 'start', '--data', vault.dir], { allowFailure: true, env: { HEARTH_VAULT_PASSPHRASE: 'not the passphrase' } });
    expect(wrongStart.code).toBe(1);
    expect(vault.fileBytes().equals(bytes)).toBe(true);

    const backup = path.join(tempDir('vault-backup'), 'vault.backup');
    const exported = await hearth(['vault', 'export', '--data', vault.dir, '--out', backup], { env: { HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE } });
    const count = (await vault.messages()).length;
    expect(exported.stdout).toContain(`${count} message(s)`);
    const sample = (await vault.messages())[0]!.text;
    expect(fs.readFileSync(backup).includes(Buffer.from(sample))).toBe(false);
    const badImport = await hearth(['vault', 'import', '--data', tempDir('vault-bad-import'), '--from', backup], { allowFailure: true, env: { HEARTH_VAULT_PASSPHRASE: 'not the passphrase' } });
    expect(badImport.stderr).toMatch(/passphrase does not open this backup; nothing was imported/);
    const restored = new VaultProcess(tempDir('vault-restored'));
    await hearth(['vault', 'import', '--data', restored.dir, '--from', backup], { env: { HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE } });
    expect(await restored.messages()).toEqual(await vault.messages());
    // The restored vault is the same device: it syncs what arrived meanwhile.
    await bob.send(alice, ['after the restore']);
    restored.start();
    await waitFor('the restored vault to sync', async () => (await restored.messages()).some((m) => m.text === 'after the restore'), 60_000);
    await restored.destroy();
  });

  it('bad input to the vault API gets clear errors and changes nothing', async () => {
    const empty = await home.api('POST', '/api/vault/pair/start', { body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('invalid_request');
    // A valid code with a device whose certificate does not verify: refused, and the code still works.
    const code = await pairingCode(home, 'carol');
    const identityKey = (await home.api('GET', '/api/users/carol')).body.identityKey as string;
    const device = { id: 'vault-forged-0001', name: 'forged', signKey: 'A'.repeat(43), dhKey: 'B'.repeat(43), cert: 'C'.repeat(86), identityKey };
    const forged = await home.api('POST', '/api/vault/pair', { body: { code, device } });
    expect(forged.status).toBe(400);
    expect(forged.body.error).toMatchObject({ code: 'bad_certificate', message: expect.stringMatching(/does not verify/) });
    const otherIdentity = await home.api('POST', '/api/vault/pair', { body: { code, device: { ...device, identityKey: 'D'.repeat(43) } } });
    expect(otherIdentity.status).toBe(409);
    expect(otherIdentity.body.error.code).toBe('identity_mismatch');
    expect((await home.api('POST', '/api/vault/pair/start', { body: { code } })).status).toBe(200);
    expect(home.count("select count(*) as n from devices where id = 'vault-forged-0001'")).toBe(0);
    expect((await home.api('POST', '/api/vault/request', { body: { sealed: {} } })).status).toBe(401);
    const noVault = await bobSite.api('POST', '/api/vault/request', { as: 'bob', body: { sealed: { alg: 'x25519-hkdf-sha256-xchacha20poly1305', ephemeralKey: 'A'.repeat(43), nonce: 'A'.repeat(32), ciphertext: 'AAAA', recipients: [{ device: 'v1', nonce: 'A'.repeat(32), wrappedKey: 'A'.repeat(64) }] } } });
    expect(noVault.status).toBe(404);
    expect(noVault.body.error.code).toBe('no_vault');
    // Guessing codes: five wrong ones from an address, then that address waits (on bob's site, so alice's tests are unaffected).
    const guesses = [];
    for (let i = 0; i < 6; i++) guesses.push((await bobSite.api('POST', '/api/vault/pair/start', { body: { code: `WRONG-CODE${i}-AAAAA-BBBBB` } })).status);
    expect(guesses).toEqual([403, 403, 403, 403, 403, 429]);
    // A link that does not start with a hello is closed.
    const closedWith = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${home.url.replace('http', 'ws')}/api/vault/link`);
      socket.once('message', () => socket.send('{"t":"ack","seqs":[1]}'));
      socket.on('close', (closeCode) => resolve(closeCode));
    });
    expect(closedWith).toBe(4000);
  });

  it('a vault that was unpaired stops with a clear message instead of retrying forever', async () => {
    vault.start();
    await waitFor('vault online', async () => (await vaultStatus(home, 'alice')).online);
    expect((await home.api('DELETE', '/api/vault', { as: 'alice' })).status).toBe(204);
    const exitCode = await new Promise<number | null>((resolve) => vault.proc!.once('exit', (code) => resolve(code)));
    expect(exitCode).toBe(1);
    expect(vault.log).toMatch(/does not know this vault any more/);
    expect(await vaultStatus(home, 'alice')).toEqual({ paired: false });
  });
});
