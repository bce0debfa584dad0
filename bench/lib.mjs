// Small helpers shared by the benchmark scripts.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { NODE_ENV, NODE_FLAGS } from '../scripts/runtime.mjs';

export async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Polls until `probe` gives a value (not undefined, null or false) and returns it. Every 50 ms by
 * default: often enough for runs of seconds, rarely enough not to steal CPU from the sites.
 */
export async function waitFor(probe, timeoutMs = 120_000, intervalMs = 50, what = 'a condition') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`bench timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A JSON request to a site's API; a refusal throws with the site's answer. */
export async function api(url, method, urlPath, { token, body } = {}) {
  const res = await fetch(`${url}${urlPath}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => undefined);
  if (!res.ok) throw new Error(`${method} ${urlPath}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * A JSON POST over a kept-alive connection with node:http: what a busy client costs the machine
 * and no more (fetch spends about 1 ms of CPU per request here, on the cores the sites share).
 * `payload` is the body already written out, for a bench that makes its requests before its clock starts.
 */
export function postJson(url, urlPath, { token, body, payload = Buffer.from(JSON.stringify(body)) }) {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}${urlPath}`, {
      method: 'POST',
      agent: keepAlive,
      headers: { 'content-type': 'application/json', 'content-length': payload.length, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.once('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode >= 400) reject(new Error(`POST ${urlPath}: ${res.statusCode} ${text}`));
        else resolve(text ? JSON.parse(text) : undefined);
      });
    });
    request.once('error', reject);
    // A request left unanswered fails the bench instead of stalling it.
    request.setTimeout(60_000, () => request.destroy(new Error(`POST ${urlPath}: no answer in 60 s`)));
    request.end(payload);
  });
}

/** The resident memory of a process, in MB. */
export function rssMB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export const ROOT = path.resolve(import.meta.dirname, '..');
export const HEARTH = path.join(ROOT, 'packages/cli/bin/hearth.js');

/** Runs the `hearth` command to its end (setup steps). */
export function hearthCli(args) {
  return execFileSync(process.execPath, [HEARTH, ...args], { cwd: ROOT, stdio: 'pipe' }).toString();
}

/** Starts a site as `npm start` does (scripts/runtime.mjs), optionally behind a command prefix (`ip netns exec NAME`). */
export function startSite(dataDir, { prefix = [], host, port } = {}) {
  const [bin, ...args] = [...prefix, process.execPath];
  // BENCH_PROFILE=DIR writes a CPU profile of each site process there.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  return spawn(bin, [...args, ...NODE_FLAGS, ...profile, HEARTH, 'start', '--data', dataDir, '--log-level', 'warn', ...(host ? ['--host', host] : []), ...(port ? ['--port', String(port)] : [])], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...NODE_ENV },
  });
}
