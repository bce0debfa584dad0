// The friends relay (issue 11): envelopes per second from one site to another's followers,
// delivered directly and then through a third site relaying for both, in the same run on the same
// three sites, and the relay's memory while it forwards. Each site runs in a network namespace of
// its own (the machine routes between them); for the relayed run a firewall rule drops everything
// between A and B, as a censor would, and A finds the relay by itself. Needs root (ip netns,
// iptables); skipped otherwise.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { generateSigningKeyPair } from '@hearth/protocol';
import { api, cpuSeconds, hearthCli, rssMB, startSite, waitFor } from './lib.mjs';

const FOLLOWERS = Number(process.env.BENCH_RELAY_FOLLOWERS ?? 100);
const POSTS = Number(process.env.BENCH_RELAY_POSTS ?? 60);
const sh = (...args) => execFileSync(args[0], args.slice(1), { stdio: 'pipe' });

/** A host of its own: a network namespace joined to this machine by a veth pair (a /30 in 10.78.0.0/16). */
function host(label) {
  const suffix = crypto.randomBytes(2).toString('hex');
  const name = `hbench-${label}-${suffix}`;
  const n = crypto.randomInt(0, 16384) * 4;
  const base = `10.78.${Math.floor(n / 256)}.`;
  const outer = `${base}${(n % 256) + 1}`;
  const inner = `${base}${(n % 256) + 2}`;
  const [hostIf, innerIf] = [`hb${label}${suffix}`, `nb${label}${suffix}`];
  sh('ip', 'netns', 'add', name);
  sh('ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', innerIf);
  sh('ip', 'link', 'set', innerIf, 'netns', name);
  sh('ip', 'addr', 'add', `${outer}/30`, 'dev', hostIf);
  sh('ip', 'link', 'set', hostIf, 'up');
  const inNs = (...args) => sh('ip', 'netns', 'exec', name, ...args);
  inNs('ip', 'addr', 'add', `${inner}/30`, 'dev', innerIf);
  inNs('ip', 'link', 'set', innerIf, 'up');
  inNs('ip', 'link', 'set', 'lo', 'up');
  inNs('ip', 'route', 'add', 'default', 'via', outer);
  return { name, ip: inner, subnet: `${base}${n % 256}/30`, prefix: ['ip', 'netns', 'exec', name], destroy: () => { try { sh('ip', 'netns', 'del', name); } catch { /* gone */ } try { sh('ip', 'link', 'del', hostIf); } catch { /* gone */ } } };
}

export function relayBenchPossible() {
  return process.getuid?.() === 0 && fs.existsSync('/usr/sbin/iptables') && fs.existsSync('/usr/sbin/ip');
}

export async function relayBench() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-relay-'));
  const hosts = { a: host('a'), b: host('b'), c: host('c') };
  const forwardBefore = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  const accept = ['-s', '10.78.0.0/16', '-d', '10.78.0.0/16', '-j', 'ACCEPT'];
  sh('iptables', '-A', 'FORWARD', ...accept);
  const drops = [[hosts.a.subnet, hosts.b.subnet], [hosts.b.subnet, hosts.a.subnet]].map(([s, d]) => ['-s', s, '-d', d, '-j', 'DROP']);
  const procs = {};
  try {
    const port = 4100;
    const url = (key) => `http://${hosts[key].ip}:${port}`;
    const dirs = { a: path.join(work, 'a'), b: path.join(work, 'b'), c: path.join(work, 'c') };
    for (const [key, user] of [['a', 'alice'], ['b', 'u0'], ['c', 'carol']]) hearthCli(['init', '--data', dirs[key], '--url', url(key), '--user', user, '--password', 'bench-password', '--dev']);
    const alice = `alice@${hosts.a.ip}:${port}`;
    // FOLLOWERS people on B follow alice (seeded in the databases: setup, not what is measured).
    const now = Date.now();
    const dbB = new Database(path.join(dirs.b, 'hearth.db'));
    const hash = dbB.prepare("select password_hash from users where username = 'u0'").get().password_hash;
    const addUser = dbB.prepare('insert or ignore into users (username, display_name, bio, avatar_url, password_hash, site_secret_key, site_public_key, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)');
    const addFollowing = dbB.prepare('insert into following (username, target, created_at) values (?, ?, ?)');
    dbB.transaction(() => {
      for (let i = 0; i < FOLLOWERS; i++) {
        const k = generateSigningKeyPair();
        addUser.run(`u${i}`, `u${i}`, '', '', hash, k.secretKey, k.publicKey, now);
        addFollowing.run(`u${i}`, alice, now);
      }
    })();
    dbB.close();
    const dbA = new Database(path.join(dirs.a, 'hearth.db'));
    const addFollower = dbA.prepare('insert into followers (username, follower, created_at) values (?, ?, ?)');
    dbA.transaction(() => {
      for (let i = 0; i < FOLLOWERS; i++) addFollower.run('alice', `u${i}@${hosts.b.ip}:${port}`, now);
    })();
    dbA.close();
    // carol relays for alice and for bob's site; alice uses carol's relay (as `hearth relay` sets them).
    hearthCli(['relay', 'allow', alice, '--per-minute', '60000', '--mb-per-day', '10000', '--data', dirs.c]);
    hearthCli(['relay', 'allow', `u0@${hosts.b.ip}:${port}`, '--data', dirs.c]);
    hearthCli(['relay', 'use', `carol@${hosts.c.ip}:${port}`, '--data', dirs.a]);

    const start = (key) => {
      procs[key] = startSite(dirs[key], { prefix: hosts[key].prefix, host: '0.0.0.0' });
      return waitFor(async () => (await fetch(`${url(key)}/healthz`).catch(() => undefined))?.ok, 60_000, 50, `site ${key}`);
    };
    await Promise.all(['b', 'c', 'a'].map(start));
    const seen = new Database(path.join(dirs.b, 'hearth.db'), { readonly: true });
    const outbox = new Database(path.join(dirs.a, 'hearth.db'), { readonly: true });
    const countSeen = () => seen.prepare('select count(*) n from inbox_seen').get().n;
    const countPending = () => outbox.prepare('select count(*) n from outbox').get().n;
    let token = (await api(url('a'), 'POST', '/api/auth/login', { body: { username: 'alice', password: 'bench-password' } })).token;
    const post = (text) => api(url('a'), 'POST', '/api/posts', { token, body: { text } });

    /** POSTS posts to FOLLOWERS followers: envelopes per second, from the first post to the last ack. */
    const run = async (label, sample) => {
      const before = countSeen();
      const cpuBefore = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, cpuSeconds(p.pid)]));
      const started = performance.now();
      for (let i = 0; i < POSTS; i++) await post(`${label} benchmark post ${i} `.repeat(4));
      await waitFor(() => {
        sample?.();
        return countSeen() === before + FOLLOWERS * POSTS && countPending() === 0;
      }, 600_000, 50, `the ${label} posts delivered`);
      const seconds = (performance.now() - started) / 1000;
      // CPU per 1,000 envelopes in each site: where the relay's cost lies.
      const cpu = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, Number((((cpuSeconds(p.pid) - cpuBefore[k]) * 1000) / (FOLLOWERS * POSTS)).toFixed(2))]));
      return { rate: (FOLLOWERS * POSTS) / seconds, cpu };
    };

    // Direct: warm up (link up, keys cached), then measure.
    let seenBefore = countSeen();
    await post('direct warm-up');
    await waitFor(() => countSeen() === seenBefore + FOLLOWERS && countPending() === 0, 120_000, 50, 'the direct warm-up');
    const direct = await run('direct');

    // Relayed: the firewall drops A<->B; A restarts (so no link from before survives), finds the
    // direct path blocked on the warm-up post and takes carol's relay from then on.
    for (const rule of drops) sh('iptables', '-I', 'FORWARD', ...rule);
    procs.a.kill('SIGTERM');
    await new Promise((resolve) => procs.a.once('exit', resolve));
    await start('a');
    token = (await api(url('a'), 'POST', '/api/auth/login', { body: { username: 'alice', password: 'bench-password' } })).token;
    const relayIdleRss = rssMB(procs.c.pid);
    seenBefore = countSeen();
    await post('relayed warm-up');
    await waitFor(() => countSeen() === seenBefore + FOLLOWERS && countPending() === 0, 180_000, 50, 'the relayed warm-up');
    const paths = outbox.prepare('select via from relay_paths').all();
    if (!paths.some((p) => p.via === `carol@${hosts.c.ip}:${port}`)) throw new Error(`the relayed run does not go through the relay: ${JSON.stringify(paths)}`);
    let relayPeakRss = rssMB(procs.c.pid);
    const relayed = await run('relayed', () => (relayPeakRss = Math.max(relayPeakRss, rssMB(procs.c.pid))));
    seen.close();
    outbox.close();
    return { direct: direct.rate, relayed: relayed.rate, directCpu: direct.cpu, relayedCpu: relayed.cpu, envelopes: FOLLOWERS * POSTS, relayIdleRss, relayPeakRss };
  } finally {
    // SIGTERM first: a site writes its CPU profile (BENCH_PROFILE) only when it ends on its own.
    await Promise.all(Object.values(procs).map((proc) => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', resolve);
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 20_000).unref();
    })));
    for (const rule of drops) try { sh('iptables', '-D', 'FORWARD', ...rule); } catch { /* not set */ }
    try { sh('iptables', '-D', 'FORWARD', ...accept); } catch { /* gone */ }
    fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', forwardBefore);
    for (const h of Object.values(hosts)) h.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// Run alone: node bench/relay.mjs
if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await relayBench();
  console.log(JSON.stringify(result));
}
