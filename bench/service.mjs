// Hosting service (issue 12): the memory of one `hearth service start` process with 1, 100 and
// 1,000 sites that nobody is using (each is opened once at the start, as a visit would, for the
// first; the rest are registered and waiting), what each site adds once it has been opened, and
// requests per second spread over 100 sites beside the same load on one site, in the same run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { addServiceSite, createServiceConfig, createSiteConfig, openRegistry, serviceSiteDir, serviceSiteUrl, updateServiceConfig } from '@hearth/server';
import { NODE_ENV, NODE_FLAGS } from '../scripts/runtime.mjs';
import { freePort, HEARTH, ROOT, rssMB, waitFor } from './lib.mjs';

const PASSWORD = 'bench-password-1';
const LOAD_SECONDS = Number(process.env.BENCH_SERVICE_SECONDS ?? 4);
const CONCURRENCY = 16;

/** The n-th site's name: loopback addresses (all of 127/8 reaches this machine), 127.0.1.1 onwards. */
const domainOf = (n) => `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;

function startService(dataDir, port) {
  return spawn(process.execPath, [...NODE_FLAGS, HEARTH, 'service', 'start', '--data', dataDir, '--host', '0.0.0.0', '--port', String(port), '--log-level', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...NODE_ENV },
  });
}

async function stop(proc) {
  if (proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function get(domain, port, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: domain, port, path: urlPath, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${domain}${urlPath}: ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

/** Requests per second for LOAD_SECONDS, CONCURRENCY at a time, each to the next of `domains` in turn. */
async function load(domains, port) {
  let next = 0;
  let done = 0;
  const until = Date.now() + LOAD_SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        await get(domains[next++ % domains.length], port, '/api/users/alice');
        done++;
      }
    }),
  );
  return done / ((Date.now() - started) / 1000);
}

/** The service's RSS once it is quiet: the lowest of a few readings a quarter second apart. */
async function quietRss(pid) {
  let low = Infinity;
  for (let i = 0; i < 8; i++) {
    await new Promise((r) => setTimeout(r, 250));
    low = Math.min(low, rssMB(pid));
  }
  return low;
}

export async function serviceBench({ log = console.log } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-service-'));
  const port = await freePort();
  // Scheduled backups off: this measures the service at rest.
  const config = updateServiceConfig(createServiceConfig(dataDir, { dev: true, port }), (raw) => ({ ...raw, backups: { everyHours: 0 } }));
  const registry = await openRegistry(config);
  let proc;
  try {
    // Sites people use (the first 100) get a person; the others are registered and waiting.
    const addUntil = async (count) => {
      for (let n = registry.list().length; n < count; n++) {
        const domain = domainOf(n);
        if (n < 100) await addServiceSite(config, registry, { domain, username: 'alice', password: PASSWORD });
        else {
          await registry.add(domain, undefined, Date.now());
          createSiteConfig(serviceSiteDir(config, domain), { url: serviceSiteUrl(config, domain), dev: true });
        }
      }
    };
    const measureIdle = async (count) => {
      await addUntil(count);
      proc = startService(dataDir, port);
      await waitFor(() => fetch(`http://127.0.0.1:${port}/.hearth-service/health`).then((r) => r.ok, () => false), 60_000, 100, 'the service');
      await get(domainOf(0), port, '/api/users/alice'); // one visit opens the first site
      const rss = await quietRss(proc.pid);
      return rss;
    };
    const idle1 = await measureIdle(1);
    await stop(proc);
    const idle100 = await measureIdle(100);
    await stop(proc);
    const idle1000 = await measureIdle(1000);
    log(`Hosting service: RSS with 1 site ${idle1.toFixed(1)} MB, 100 sites ${idle100.toFixed(1)} MB, 1,000 sites ${idle1000.toFixed(1)} MB: ${(((idle1000 - idle1) / 999) * 1024).toFixed(0)} KB per additional idle site (aim < 1 MB)`);

    // Throughput: one site, then the same load spread over 100 (which opens them).
    const hundred = Array.from({ length: 100 }, (_, n) => domainOf(n));
    await load([domainOf(0)], port); // warm-up
    const oneSite = await load([domainOf(0)], port);
    for (const domain of hundred) await get(domain, port, '/api/users/alice'); // each opened once, as a visit would
    const open100 = await quietRss(proc.pid);
    const manySites = await load(hundred, port);
    // Every site opened once (the 900 without a person answer /api/site): the service's worst case at rest.
    for (let n = 100; n < 1000; n++) await get(domainOf(n), port, '/api/site');
    const openAll = await quietRss(proc.pid);
    log(`        GET /api/users/alice, ${CONCURRENCY} at a time: one site ${oneSite.toFixed(0)} /s, spread over 100 sites ${manySites.toFixed(0)} /s = ${(manySites / oneSite).toFixed(2)} x`);
    log(`        each site opened by a visit adds ${(((open100 - idle1000) / 99) * 1024).toFixed(0)} KB while it stays open (100 opened: ${open100.toFixed(1)} MB; all 1,000 opened: ${openAll.toFixed(1)} MB)`);
    return { idle1, idle100, idle1000, perIdleSiteKB: ((idle1000 - idle1) / 999) * 1024, perOpenSiteKB: ((open100 - idle1000) / 99) * 1024, open1000: openAll, oneSite, manySites };
  } finally {
    if (proc) await stop(proc);
    agent.destroy();
    await registry.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await serviceBench();
  console.log(JSON.stringify(result));
}
