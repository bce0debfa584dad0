// Past one machine (issue 13, docs/SCALING.md): durable delivery and a post's fan-out to 1,000
// remote followers, on the embedded SQLite, on PostgreSQL with one instance, and on PostgreSQL
// with two instances sharing through NATS, in the same run on the same machine. Besides the
// rates: the database statements and transactions, and the NATS messages, per envelope delivered
// (from pg_stat_statements, pg_stat_database and nats-server's /varz), from which docs/SCALING.md
// derives what N machines carry. `node bench/scale.mjs` runs it alone.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { generateSigningKeyPair } from '@hearth/protocol';
import { cpuSeconds, freePort, hearthCli, startSite, waitFor } from './lib.mjs';

const FOLLOWERS = Number(process.env.BENCH_SCALE_FOLLOWERS ?? 1000);
const POSTS = Number(process.env.BENCH_SCALE_POSTS ?? 20);
const PG_BIN = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((dir) => fs.existsSync(path.join(dir, 'initdb')));
const NATS_BIN = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((file) => fs.existsSync(file));

export function scaleBenchPossible() {
  return PG_BIN !== undefined && NATS_BIN !== undefined;
}

/** A throwaway PostgreSQL cluster (as the tests make one), with pg_stat_statements to count statements. */
async function startPostgres() {
  // A folder of its own directly in the temp folder: the postgres user must reach it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-pg-'));
  const root = process.getuid?.() === 0;
  if (root) execFileSync('chown', ['postgres:postgres', dir]);
  const run = (bin, args) => {
    const [file, full] = root ? ['runuser', ['-u', 'postgres', '--', path.join(PG_BIN, bin), ...args]] : [path.join(PG_BIN, bin), args];
    const result = spawnSync(file, full, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${bin}: ${result.stderr}`);
  };
  run('initdb', ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--locale=C', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  // fsync stays on: durable means on disk, as a vendor runs it.
  run('pg_ctl', ['-D', path.join(dir, 'data'), '-w', '-l', path.join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c max_connections=200`, 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('create extension if not exists pg_stat_statements');
  return {
    url,
    client,
    async counters() {
      const statements = await client.query("select coalesce(sum(calls), 0)::bigint as n from pg_stat_statements where query not like '%pg_stat%'");
      const xacts = await client.query('select xact_commit::bigint as n from pg_stat_database where datname = current_database()');
      return { statements: Number(statements.rows[0].n), transactions: Number(xacts.rows[0].n) };
    },
    async stop() {
      await client.end();
      run('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** nats-server with its monitoring port, to count the messages that went through it. */
async function startNats() {
  const [port, monitor] = [await freePort(), await freePort()];
  const proc = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitor)], { stdio: 'ignore' });
  const varz = async () => (await fetch(`http://127.0.0.1:${monitor}/varz`)).json();
  await waitFor(async () => (await varz().catch(() => undefined))?.server_id, 20_000, 50, 'nats-server');
  return {
    url: `nats://127.0.0.1:${port}`,
    async messages() {
      return (await varz()).in_msgs;
    },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
    },
  };
}

/** Plain SQL on a site's database, whichever it is (setup and counting; `?` placeholders). */
function siteDb(dataDir, postgres, schema) {
  if (!postgres) {
    const db = new Database(path.join(dataDir, 'hearth.db'));
    return {
      all: async (sql, ...params) => db.prepare(sql).all(...params),
      run: async (sql, ...params) => void db.prepare(sql).run(...params),
      many: async (sql, rows) => db.transaction(() => rows.forEach((r) => db.prepare(sql).run(...r)))(),
      close: async () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: postgres.url, options: `-c search_path=${schema}` });
  const ready = client.connect();
  const numbered = (sql) => {
    let i = 0;
    return sql.replace(/\?/g, () => `$${++i}`);
  };
  return {
    all: async (sql, ...params) => (await ready, (await client.query(numbered(sql), params)).rows),
    run: async (sql, ...params) => void (await ready, await client.query(numbered(sql), params)),
    many: async (sql, rows) => {
      await ready;
      await client.query('begin');
      for (const r of rows) await client.query(numbered(sql), r);
      await client.query('commit');
    },
    close: async () => client.end(),
  };
}

/**
 * One configuration: alice's site (one or two instances) with FOLLOWERS followers on another site.
 * Returns the fan-out of one post (ms until every follower's site has it) and the durable rate of
 * POSTS posts, with the database and bus work per envelope.
 */
async function runConfig(label, { postgres, nats, instances }) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `hearth-bench-scale-${label}-`));
  const [portA, portA2, portB] = [await freePort(), await freePort(), await freePort()];
  const dirA = path.join(work, 'a');
  const dirB = path.join(work, 'b');
  const schemaA = `bench_${label}_a`;
  const schemaB = `bench_${label}_b`;
  const db = (dir, schema) => (postgres ? ['--database', postgres.url, '--database-schema', schema] : []);
  hearthCli(['init', '--data', dirA, '--url', `http://127.0.0.1:${portA}`, '--user', 'alice', '--password', 'bench-password', '--dev', ...db(dirA, schemaA)]);
  hearthCli(['init', '--data', dirB, '--url', `http://127.0.0.1:${portB}`, '--user', 'u0', '--password', 'bench-password', '--dev', ...db(dirB, schemaB)]);
  // The followers (setup, not measured): FOLLOWERS users on B following alice, and A knowing them.
  const now = Date.now();
  const b = siteDb(dirB, postgres, schemaB);
  const [{ password_hash: hash }] = await b.all("select password_hash from users where username = 'u0'");
  const users = [];
  for (let i = 1; i < FOLLOWERS; i++) {
    const k = generateSigningKeyPair();
    users.push([`u${i}`, `u${i}`, '', '', hash, k.secretKey, k.publicKey, now]);
  }
  await b.many('insert into users (username, display_name, bio, avatar_url, password_hash, site_secret_key, site_public_key, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)', users);
  await b.many('insert into following (username, target, created_at) values (?, ?, ?)', Array.from({ length: FOLLOWERS }, (_, i) => [`u${i}`, `alice@127.0.0.1:${portA}`, now]));
  const a = siteDb(dirA, postgres, schemaA);
  await a.many('insert into followers (username, follower, created_at) values (?, ?, ?)', Array.from({ length: FOLLOWERS }, (_, i) => ['alice', `u${i}@127.0.0.1:${portB}`, now]));
  // Two instances: a second folder with the same hearth.json, listening on its own port.
  const dirs = [dirA];
  if (instances === 2) {
    const config = JSON.parse(fs.readFileSync(path.join(dirA, 'hearth.json'), 'utf8'));
    fs.writeFileSync(path.join(dirA, 'hearth.json'), JSON.stringify({ ...config, cluster: { nats: nats.url } }), { mode: 0o600 });
    const dirA2 = path.join(work, 'a2');
    fs.mkdirSync(dirA2);
    fs.copyFileSync(path.join(dirA, 'hearth.json'), path.join(dirA2, 'hearth.json'));
    dirs.push(dirA2);
  }
  const procs = [startSite(dirB), ...dirs.map((dir, i) => (i === 0 ? startSite(dir) : startSite(dir, { port: portA2 })))];
  const urls = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portA2}`].slice(0, dirs.length);
  const healthy = async (url) => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok;
  await waitFor(async () => (await Promise.all([`http://127.0.0.1:${portB}`, ...urls].map(healthy))).every(Boolean), 60_000, 100, `${label} sites`);
  const login = async (url) => (await (await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'bench-password' }) })).json()).token;
  const token = await login(urls[0]);
  const post = async (url, text) => {
    const res = await fetch(`${url}/api/posts`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
    if (res.status !== 201) throw new Error(`${label}: post failed: ${res.status} ${await res.text()}`);
  };
  const seen = async () => Number((await b.all('select count(*) as n from inbox_seen'))[0].n);
  const pending = async () => Number((await a.all('select count(*) as n from outbox'))[0].n);
  // Warm-up: links up, keys fetched and cached, at every instance.
  for (const url of urls) await post(url, 'warm-up');
  await waitFor(async () => (await seen()) === FOLLOWERS * urls.length && (await pending()) === 0, 120_000, 50, `${label} warm-up`);

  // One post's fan-out to every follower.
  let base = await seen();
  let started = performance.now();
  await post(urls[0], 'fan-out');
  await waitFor(async () => (await seen()) === base + FOLLOWERS, 120_000, 10, `${label} fan-out`);
  const fanOutMs = performance.now() - started;
  await waitFor(async () => (await pending()) === 0, 60_000, 20, `${label} outbox empty`);

  // The durable rate: POSTS posts (to the instances in turn), until the follower's site has every envelope.
  base = await seen();
  const dbBefore = postgres ? await postgres.counters() : undefined;
  const busBefore = nats ? await nats.messages() : undefined;
  const cpuBefore = procs.slice(1).map((p) => cpuSeconds(p.pid));
  started = performance.now();
  for (let i = 0; i < POSTS; i++) await post(urls[i % urls.length], `benchmark post ${i} `.repeat(4));
  const total = POSTS * FOLLOWERS;
  await waitFor(async () => (await seen()) === base + total && (await pending()) === 0, 300_000, 50, `${label} delivery`);
  const seconds = (performance.now() - started) / 1000;
  const dbAfter = postgres ? await postgres.counters() : undefined;
  const busAfter = nats ? await nats.messages() : undefined;
  const senderCpuMs = procs.slice(1).reduce((sum, p, i) => sum + (cpuSeconds(p.pid) - cpuBefore[i]), 0) * 1000;
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => new Promise((resolve) => (p.exitCode !== null ? resolve() : p.once('exit', resolve)))));
  await a.close();
  await b.close();
  fs.rmSync(work, { recursive: true, force: true });
  return {
    label,
    fanOutMs,
    rate: total / seconds,
    total,
    seconds,
    senderCpuMsPerEnvelope: senderCpuMs / total,
    // Both sites' statements (the sender's and the receiver's, in one cluster) per envelope.
    ...(dbBefore && { statementsPerEnvelope: (dbAfter.statements - dbBefore.statements) / total, transactionsPerEnvelope: (dbAfter.transactions - dbBefore.transactions) / total }),
    ...(busBefore !== undefined && { natsMessagesPerEnvelope: (busAfter - busBefore) / total }),
  };
}

export async function scaleBench({ log }) {
  const postgres = await startPostgres();
  const nats = await startNats();
  try {
    const sqlite = await runConfig('sqlite', {});
    const pg1 = await runConfig('pg1', { postgres });
    const pg2 = await runConfig('pg2', { postgres, nats, instances: 2 });
    const line = (r) =>
      `${r.rate.toFixed(0).padStart(6)} envelopes/s, fan-out of one post to ${FOLLOWERS} followers ${r.fanOutMs.toFixed(0)} ms, sender CPU ${r.senderCpuMsPerEnvelope.toFixed(3)} ms/envelope` +
      (r.statementsPerEnvelope !== undefined ? `, ${r.statementsPerEnvelope.toFixed(2)} SQL statements and ${r.transactionsPerEnvelope.toFixed(3)} transactions per envelope (both sites)` : '') +
      (r.natsMessagesPerEnvelope !== undefined ? `, ${r.natsMessagesPerEnvelope.toFixed(3)} NATS messages per envelope` : '');
    log(`Past one machine: ${sqlite.total} envelopes from one site to ${FOLLOWERS} followers on another, durable (fsync on)`);
    log(`        SQLite, one instance:       ${line(sqlite)}`);
    log(`        PostgreSQL, one instance:   ${line(pg1)} = ${(pg1.rate / sqlite.rate).toFixed(2)} x SQLite`);
    log(`        PostgreSQL, two instances:  ${line(pg2)} = ${(pg2.rate / pg1.rate).toFixed(2)} x one instance (aim >= 0.9 on this 2-core machine)`);
    return { sqlite, pg1, pg2 };
  } finally {
    await nats.stop();
    await postgres.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await scaleBench({ log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
