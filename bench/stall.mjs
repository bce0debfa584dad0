// One site with one stalled follower (issue 15): a follower's site links in, then stops reading
// its socket, while the author makes STALL_POSTS posts of about 15 KB. Measured: the author
// site's RSS (sampled every 250 ms, highest) beside its own idle RSS from the same run, and the
// longest event-loop stall inside the site (perf_hooks.monitorEventLoopDelay, via /api/status)
// beside the longest stall while idle; the run lasts until the site closes the stalled link.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { generateSigningKeyPair, linkProofBytes, nobleSigner, toBase64url } from '@hearth/protocol';
import { NODE_ENV, NODE_FLAGS } from '../scripts/runtime.mjs';
import { api, freePort, waitFor } from './lib.mjs';

const root = path.resolve(import.meta.dirname, '..');
const HEARTH = path.join(root, 'packages/cli/bin/hearth.js');
const POSTS = Number(process.env.BENCH_STALL_POSTS ?? 7000);

function rssMB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
}

/**
 * The follower's site as seen from outside: its server document; its inbox answers "busy, retry
 * later" (503), as an overloaded site would, and it takes no new links.
 */
async function fakeFollowerSite(port, serverKey) {
  const server = http.createServer((req, res) => {
    if (req.url === '/.well-known/hearth') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ serverKey: serverKey.publicKey }));
    if (req.url === '/federation/inbox') return res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"busy","message":"busy"}}');
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** Links to the author's site as the follower's site, then stops reading: the socket is paused. */
async function stalledLink(authorPort, followerPort, serverKey) {
  const client = { host: '127.0.0.1', port: followerPort };
  const server = { host: '127.0.0.1', port: authorPort };
  const ws = new WebSocket(`ws://127.0.0.1:${authorPort}/federation`);
  const frames = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.send(JSON.stringify({ t: 'hello', v: 1, client, server, nonce: toBase64url(crypto.randomBytes(24)) }));
  const challenge = await waitFor(() => frames.find((f) => f.t === 'challenge'), 10_000);
  ws.send(JSON.stringify({ t: 'auth', sig: toBase64url(nobleSigner(serverKey).sign(linkProofBytes('client', client, server, challenge.nonce))) }));
  await waitFor(() => frames.find((f) => f.t === 'ready'), 10_000);
  ws._socket.pause(); // from here on nothing is read: the kernel's buffers fill, then the sender's
  return ws;
}

export async function stallBench({ log }) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-stall-'));
  const [authorPort, followerPort] = [await freePort(), await freePort()];
  const dir = path.join(work, 'author');
  execFileSync(process.execPath, [HEARTH, 'init', '--data', dir, '--url', `http://127.0.0.1:${authorPort}`, '--user', 'alice', '--password', 'bench-password', '--dev'], { cwd: root, stdio: 'pipe' });
  const db = new Database(path.join(dir, 'hearth.db'));
  db.prepare('insert into followers (username, follower, created_at) values (?, ?, ?)').run('alice', `bob@127.0.0.1:${followerPort}`, Date.now());
  db.close();
  const followerKey = generateSigningKeyPair();
  const fake = await fakeFollowerSite(followerPort, followerKey);
  const flags = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : NODE_FLAGS;
  const proc = spawn(process.execPath, [...flags, HEARTH, 'start', '--data', dir, '--log-level', 'warn'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...NODE_ENV } });
  const url = `http://127.0.0.1:${authorPort}`;
  try {
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok);
    const { token } = await api(url, 'POST', '/api/auth/login', { body: { username: 'alice', password: 'bench-password' } });
    const status = (reset) => api(url, 'GET', `/api/status${reset ? '?resetEventLoop=1' : ''}`, { token });
    // Idle baseline: a few seconds of nothing, after start-up has settled.
    await new Promise((r) => setTimeout(r, 1500));
    await status(true);
    await new Promise((r) => setTimeout(r, 3000));
    const idle = { rss: rssMB(proc.pid), pauseMs: (await status(true)).eventLoop.maxMs };

    const ws = await stalledLink(authorPort, followerPort, followerKey);
    let peakRss = idle.rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMB(proc.pid))), 250);
    const text = '☕'.repeat(4900); // about 15 KB of UTF-8
    const started = performance.now();
    for (let i = 0; i < POSTS; i++) await api(url, 'POST', '/api/posts', { token, body: { text: `${i} ${text}` } });
    // Then until the site's heartbeat gives up on the stalled link and closes it (within about a
    // minute), which must cost no pause either.
    const follower = `127.0.0.1:${followerPort}`;
    const closed = await waitFor(async () => !(await status(false)).links.some((l) => l.peer === follower), 120_000, 1000).catch(() => false);
    if (!closed) log('(the stalled link was not closed within 2 minutes)');
    clearInterval(sampler);
    peakRss = Math.max(peakRss, rssMB(proc.pid));
    const run = { seconds: (performance.now() - started) / 1000, pauseMs: (await status(true)).eventLoop.maxMs };
    ws.terminate();
    return { posts: POSTS, idleRss: idle.rss, peakRss, idlePauseMs: idle.pauseMs, pauseMs: run.pauseMs, seconds: run.seconds, linkClosed: Boolean(closed) };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    fake.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await stallBench({ log: console.log });
  console.log(JSON.stringify(r));
}
