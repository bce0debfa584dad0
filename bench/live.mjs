// A post reaching its followers' open pages: 1,000 followers on 10 sites, each with their live
// connection open (/api/live, the socket the web app keeps). For each post, the time from
// `POST /api/posts` returning on the author's site to each follower's live "feed" event; p50 and
// p99 over every follower and post. Beside it, in the same run: a live event on the author's own
// site (a notification to the author), which crosses no site, as the floor.
// `node bench/live.mjs` runs it alone.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { generateSigningKeyPair } from '@hearth/protocol';
import { api, freePort, hearthCli, startSite, waitFor } from './lib.mjs';

const SITES = Number(process.env.BENCH_LIVE_SITES ?? 10);
const PER_SITE = Number(process.env.BENCH_LIVE_FOLLOWERS_PER_SITE ?? 100);
const POSTS = Number(process.env.BENCH_LIVE_POSTS ?? 20);
const SESSION_TTL_MS = 24 * 60 * 60 * 1000;

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

/** Opens a live connection as the web app does (token in the first message) and resolves at "ready". */
function openLive(url, token, onFeed) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace('http', 'ws')}/api/live`);
    socket.once('open', () => socket.send(JSON.stringify({ token })));
    socket.on('message', (data) => {
      const event = JSON.parse(data.toString());
      if (event.type === 'ready') resolve(socket);
      else if (event.type === 'feed') onFeed();
    });
    socket.once('error', reject);
  });
}

/** The bench's line for this figure. */
export function liveLine(r) {
  return `Post to the open pages of ${r.followers} followers on ${r.sites} sites, from POST /api/posts sent (it answers in ${r.postP50Ms.toFixed(0)} ms): p50 ${r.p50Ms.toFixed(0)} ms, p99 ${r.p99Ms.toFixed(0)} ms (aim < 100 ms; max ${r.maxMs.toFixed(0)} ms); a follower on the author's own site: p50 ${r.ownP50Ms.toFixed(0)} ms, p99 ${r.ownP99Ms.toFixed(0)} ms`;
}

export async function liveBench({ log = console.log } = {}) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-live-'));
  const procs = [];
  const sockets = [];
  try {
    const authorPort = await freePort();
    const authorUrl = `http://127.0.0.1:${authorPort}`;
    const author = `alice@127.0.0.1:${authorPort}`;
    hearthCli(['init', '--data', path.join(work, 'author'), '--url', authorUrl, '--user', 'alice', '--password', 'bench-password', '--dev']);
    const now = Date.now();
    const followers = []; // { site, token }
    const sites = [];
    // Setup (not measured): each follower site with PER_SITE people following alice, each with a
    // session, written directly in the databases as bench/run.mjs does.
    for (let s = 0; s < SITES; s++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const dir = path.join(work, `site${s}`);
      hearthCli(['init', '--data', dir, '--url', url, '--user', 'f0', '--password', 'bench-password', '--dev']);
      const db = new Database(path.join(dir, 'hearth.db'));
      const hash = db.prepare("select password_hash from users where username = 'f0'").get().password_hash;
      const user = db.prepare('insert or ignore into users (username, display_name, bio, avatar_url, password_hash, site_secret_key, site_public_key, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)');
      const follow = db.prepare('insert into following (username, target, created_at) values (?, ?, ?)');
      const session = db.prepare('insert into sessions (token_hash, username, created_at, expires_at) values (?, ?, ?, ?)');
      db.transaction(() => {
        for (let i = 0; i < PER_SITE; i++) {
          const keys = generateSigningKeyPair();
          user.run(`f${i}`, `f${i}`, '', '', hash, keys.secretKey, keys.publicKey, now);
          follow.run(`f${i}`, author, now);
          const token = crypto.randomBytes(24).toString('base64url');
          session.run(crypto.createHash('sha256').update(token).digest('hex'), `f${i}`, now, now + SESSION_TTL_MS);
          followers.push({ url, address: `f${i}@127.0.0.1:${port}`, token });
        }
      })();
      db.close();
      sites.push({ dir, url });
    }
    const authorDb = new Database(path.join(work, 'author', 'hearth.db'));
    const addFollower = authorDb.prepare('insert into followers (username, follower, created_at) values (?, ?, ?)');
    // And one follower on alice's own site, whose page hears of her posts without crossing sites.
    const neighbourToken = crypto.randomBytes(24).toString('base64url');
    authorDb.transaction(() => {
      for (const f of followers) addFollower.run('alice', f.address, now);
      const row = authorDb.prepare("select password_hash, site_secret_key, site_public_key from users where username = 'alice'").get();
      const keys = generateSigningKeyPair();
      authorDb.prepare('insert into users (username, display_name, bio, avatar_url, password_hash, site_secret_key, site_public_key, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)').run('neighbour', 'neighbour', '', '', row.password_hash, keys.secretKey, keys.publicKey, now);
      authorDb.prepare('insert into following (username, target, created_at) values (?, ?, ?)').run('neighbour', author, now);
      authorDb.prepare('insert into sessions (token_hash, username, created_at, expires_at) values (?, ?, ?, ?)').run(crypto.createHash('sha256').update(neighbourToken).digest('hex'), 'neighbour', now, now + SESSION_TTL_MS);
    })();
    authorDb.close();

    procs.push(startSite(path.join(work, 'author')), ...sites.map((s) => startSite(s.dir)));
    for (const url of [authorUrl, ...sites.map((s) => s.url)]) await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 60_000);
    const token = (await api(authorUrl, 'POST', '/api/auth/login', { body: { username: 'alice', password: 'bench-password' } })).token;

    // Every follower's page open: the time its first "feed" event arrives after each post.
    const arrivals = followers.map(() => undefined);
    let counting = false;
    for (let i = 0; i < followers.length; i++) {
      sockets.push(await openLive(followers[i].url, followers[i].token, () => counting && arrivals[i] === undefined && (arrivals[i] = performance.now())));
    }
    const post = async (text) => {
      const sent = performance.now();
      const res = await fetch(`${authorUrl}/api/posts`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
      if (res.status !== 201) throw new Error(`post failed: ${res.status}`);
      return { sent, returned: performance.now() };
    };
    // Warm-up: the links between the sites come up and the author's key is fetched and cached.
    counting = true;
    await post('warm-up');
    await waitFor(() => arrivals.every((a) => a !== undefined), 120_000, 20, 'the warm-up post on every page');

    // From the moment the author's POST goes out: the live events often arrive before its answer
    // (they leave right after the commit), so timing from the answer would read below zero.
    // Each post starts once the last one has reached every follower (the author's outbox is empty):
    // this measures how soon a post shows, not how many a site can send (bench/run.mjs does that).
    const authorState = new Database(path.join(work, 'author', 'hearth.db'), { readonly: true });
    const delivered = () => authorState.prepare('select (select count(*) from outbox) + (select count(*) from fanout_jobs) n').get().n === 0;
    const latencies = [];
    const postMs = [];
    for (let p = 0; p < POSTS; p++) {
      await waitFor(delivered, 120_000, 20, 'the last post delivered to every follower');
      arrivals.fill(undefined);
      const { sent, returned } = await post(`live bench post ${p}`);
      postMs.push(returned - sent);
      await waitFor(() => arrivals.every((a) => a !== undefined), 120_000, 5, `post ${p} on every page`);
      for (const at of arrivals) latencies.push(at - sent);
      // BENCH_LIVE_DEBUG=1: when the first and last page of each site heard of the post.
      if (process.env.BENCH_LIVE_DEBUG) console.error(`post ${p}: answered ${(returned - sent).toFixed(0)} ms; per site first/last: ${Array.from({ length: SITES }, (_, s) => { const a = arrivals.slice(s * PER_SITE, (s + 1) * PER_SITE).map((t) => t - sent); return `${Math.min(...a).toFixed(0)}/${Math.max(...a).toFixed(0)}`; }).join(" ")}`);
    }
    latencies.sort((a, b) => a - b);
    postMs.sort((a, b) => a - b);

    // The floor: a follower on alice's own site, whose live event crosses no site.
    const own = [];
    let ownAt;
    sockets.push(await openLive(authorUrl, neighbourToken, () => ownAt === undefined && (ownAt = performance.now())));
    for (let p = 0; p < POSTS; p++) {
      await waitFor(delivered, 120_000, 20, 'the last post delivered to every follower');
      ownAt = undefined;
      const { sent } = await post(`own page ${p}`);
      await waitFor(() => ownAt !== undefined, 60_000, 2, 'the own-page event');
      own.push(ownAt - sent);
    }
    own.sort((a, b) => a - b);
    authorState.close();
    return {
      followers: followers.length,
      sites: SITES,
      posts: POSTS,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies[latencies.length - 1],
      postP50Ms: percentile(postMs, 50),
      ownP50Ms: percentile(own, 50),
      ownP99Ms: percentile(own, 99),
    };
  } finally {
    for (const socket of sockets) socket.terminate();
    for (const proc of procs) proc.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await liveBench();
  console.log(liveLine(r));
  console.log(JSON.stringify(r));
}
