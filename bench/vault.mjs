// The home vault's figures for `npm run bench`: how long a vault that was offline takes to sync
// 10,000 queued DMs (and its messages per second), beside the backend's own DM ingest rate in the
// same run: the same 10,000 DMs sent by bob's device through bob's site and stored by alice's.
// Every DM is genuine: encrypted for alice's vault and bob's device, signed by bob's device.
// The DMs are posted over kept-alive node:http connections (bench/lib.mjs postJson), so the bench's own
// client costs the shared cores little; its CPU per DM is reported beside the sites'.
// BENCH_VAULT_DMS=N for another count, BENCH_VAULT_DEBUG=1 to see the vault's output, BENCH_PROFILE=DIR for CPU profiles.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { certifiedDevices, encryptDm, newEnvelopeId, signDmPlaintext } from '@hearth/protocol';
import { nodeX25519 } from '@hearth/protocol/node';
import { NODE_ENV, NODE_FLAGS } from '../scripts/runtime.mjs';
import { api, cpuSeconds, freePort, postJson, waitFor } from './lib.mjs';

const root = path.resolve(import.meta.dirname, '..');
const HEARTH = path.join(root, 'packages/cli/bin/hearth.js');
const PASSPHRASE = 'bench vault passphrase';
const COUNT = Number(process.env.BENCH_VAULT_DMS ?? 10_000);

const cli = (args, env = {}) => execFileSync(process.execPath, [HEARTH, ...args], { cwd: root, stdio: 'pipe', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, ...env } }).toString();

export async function vaultBench() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-vault-'));
  const [portA, portB] = [await freePort(), await freePort()];
  const [urlA, urlB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
  const [dirA, dirB, vaultDir, bobProfile] = ['alice', 'bob', 'vault', 'bob-device'].map((d) => path.join(work, d));
  cli(['init', '--data', dirA, '--url', urlA, '--user', 'alice', '--password', 'bench-password', '--dev']);
  cli(['init', '--data', dirB, '--url', urlB, '--user', 'bob', '--password', 'bench-password', '--dev']);
  // BENCH_PROFILE=DIR writes a CPU profile of each site there (and of the vault, below).
  const profileSite = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}/sites`] : [];
  const start = (dir) => spawn(process.execPath, [...NODE_FLAGS, ...profileSite, HEARTH, 'start', '--data', dir, '--log-level', 'warn'], { cwd: root, stdio: 'ignore', env: { ...process.env, ...NODE_ENV } });
  const sites = [start(dirA), start(dirB)];
  const vaultProcs = [];
  try {
    for (const url of [urlA, urlB]) await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok);
    const login = async (url, username) => (await api(url, 'POST', '/api/auth/login', { body: { username, password: 'bench-password' } })).token;
    const aliceToken = await login(urlA, 'alice');
    const { code } = await api(urlA, 'POST', '/api/vault/pairing-code', { token: aliceToken });
    cli(['vault', 'pair', '--data', vaultDir, '--site', urlA, '--code', code, '--password', 'bench-password'], { HEARTH_VAULT_PASSPHRASE: PASSPHRASE });
    cli(['login', '--profile', bobProfile, '--site', urlB, '--user', 'bob', '--password', 'bench-password']);
    const bob = JSON.parse(fs.readFileSync(path.join(bobProfile, 'profile.json'), 'utf8'));
    const alice = `alice@127.0.0.1:${portA}`;
    const from = `bob@127.0.0.1:${portB}`;
    const peer = await api(urlB, 'GET', `/api/lookup?address=${encodeURIComponent(alice)}`, { token: bob.token });
    const me = await api(urlB, 'GET', '/api/me', { token: bob.token });
    const targets = [...certifiedDevices({ address: alice, identityKey: peer.identityKey, devices: peer.devices }), ...certifiedDevices({ address: from, identityKey: bob.identity.publicKey, devices: me.devices })];
    const seal = (text) => encryptDm(signDmPlaintext(bob.device, { id: newEnvelopeId(), from, to: alice, sentAt: new Date().toISOString(), text }), targets, undefined, nodeX25519);
    // Made before the clock starts, down to the request bodies' bytes: the device's work is not the backend's.
    const bodies = Array.from({ length: COUNT }, (_, i) => Buffer.from(JSON.stringify({ to: alice, message: seal(`benchmark message ${i}: ${'lorem ipsum '.repeat(6)}`) })));
    const stored = new Database(path.join(dirA, 'hearth.db'), { readonly: true });
    const countStored = () => stored.prepare("select count(*) n from dm_messages where username = 'alice'").get().n;
    const countQueued = () => stored.prepare("select count(*) n from vault_queue where username = 'alice'").get().n;
    const post = (message) => postJson(urlB, '/api/dms', { token: bob.token, body: { to: alice, message } });
    const postBody = (payload) => postJson(urlB, '/api/dms', { token: bob.token, payload });
    await post(seal('warm-up: the link comes up and keys are cached'));
    await waitFor(() => countStored() === 1);

    // The backend's DM ingest: sent through bob's site, verified and stored by alice's, queued for her vault.
    let next = 0;
    const ingestCpu = sites.map((p) => cpuSeconds(p.pid));
    const clientCpu = process.cpuUsage();
    const ingestStarted = performance.now();
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < bodies.length) await postBody(bodies[next++]);
    }));
    await waitFor(() => countStored() === COUNT + 1 && countQueued() === COUNT + 1, 300_000);
    const ingestSeconds = (performance.now() - ingestStarted) / 1000;
    const clientUsage = process.cpuUsage(clientCpu);
    const clientCpuMs = (clientUsage.user + clientUsage.system) / 1000 / COUNT;
    // CPU ms per DM: where the time goes (sender is bob's site, receiver alice's).
    const [receiverCpu, senderCpu] = sites.map((p, i) => ((cpuSeconds(p.pid) - ingestCpu[i]) * 1000) / COUNT);

    // The vault: started after everything is queued; the clock runs from its start to an empty queue.
    const vaultStarted = performance.now();
    let connectedAt;
    let syncCpu = [0, 0];
    // BENCH_PROFILE=DIR writes a CPU profile of the vault there.
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}/vault`] : [];
    const vault = spawn(process.execPath, [...NODE_FLAGS, ...profile, HEARTH, 'vault', 'start', '--data', vaultDir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...NODE_ENV, HEARTH_VAULT_PASSPHRASE: PASSPHRASE },
    });
    vaultProcs.push(vault);
    // What the vault says on stderr goes to the bench's, except the line it says when the bench stops it.
    vault.stderr.on('data', (data) => {
      const text = data.toString().replace(/^\s*SIGTERM: stopping\.\.\.\s*$/m, '');
      if (text.trim()) process.stderr.write(text);
    });
    vault.stdout.on('data', (data) => {
      if (process.env.BENCH_VAULT_DEBUG) process.stderr.write(data);
      if (connectedAt === undefined && data.toString().includes('Connected to')) {
        connectedAt = performance.now();
        syncCpu = [cpuSeconds(sites[0].pid), cpuSeconds(vault.pid)];
      }
    });
    await waitFor(() => countQueued() === 0, 300_000, 20);
    const done = performance.now();
    const [siteSyncCpu, vaultSyncCpu] = [sites[0].pid, vault.pid].map((pid, i) => ((cpuSeconds(pid) - syncCpu[i]) * 1000) / COUNT);
    stored.close();
    const inVault = JSON.parse(cli(['vault', 'messages', '--data', vaultDir, '--json'], { HEARTH_VAULT_PASSPHRASE: PASSPHRASE })).messages.length;
    if (inVault !== COUNT + 1) throw new Error(`the vault holds ${inVault} messages, expected ${COUNT + 1}`);
    return {
      count: COUNT,
      ingestSeconds,
      ingestRate: COUNT / ingestSeconds,
      syncSeconds: (done - vaultStarted) / 1000,
      openSeconds: ((connectedAt ?? done) - vaultStarted) / 1000,
      syncRate: COUNT / ((done - (connectedAt ?? vaultStarted)) / 1000),
      cpuMsPerDm: { client: clientCpuMs, sender: senderCpu, receiver: receiverCpu, siteSync: siteSyncCpu, vaultSync: vaultSyncCpu },
    };
  } finally {
    for (const proc of [...vaultProcs, ...sites]) proc.kill('SIGTERM');
    await Promise.all([...vaultProcs, ...sites].map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    fs.rmSync(work, { recursive: true, force: true });
  }
}
