// The baseline for a site's idle memory: the libraries a site is built on, started the way a site
// is (the same Node flags and malloc settings) but with nothing of Hearth's in them, in four steps
// (bench/bare-stack-serve.mjs): node:http with Ed25519; + better-sqlite3; + fastify; + the
// WebSocket plugin, Kysely, zod and pino.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { NODE_ENV, NODE_FLAGS } from '../scripts/runtime.mjs';
import { freePort, rssMB, waitFor } from './lib.mjs';

export const STEPS = ['node', 'sqlite', 'fastify', 'stack'];
const SERVE = path.join(import.meta.dirname, 'bare-stack-serve.mjs');

/**
 * The RSS of each step at rest, read as the bench reads a site's: 1.5 s after it answers, and
 * for the last step with a WebSocket open that has carried one message (a site's link).
 */
export async function bareStackRss() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-bare-'));
  const rss = {};
  try {
    for (const step of STEPS) {
      const port = await freePort();
      const child = spawn(process.execPath, [...NODE_FLAGS, SERVE, step, String(port), dir], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...NODE_ENV } });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let socket;
      try {
        const url = `http://127.0.0.1:${port}`;
        await waitFor(async () => {
          if (child.exitCode !== null) throw new Error(`the bare ${step} process exited (${child.exitCode}); its error is above`);
          return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok;
        }, 30_000, 50, `the bare ${step} process to answer`);
        if (step === 'stack') {
          socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
          await new Promise((resolve, reject) => {
            socket.once('open', () => socket.send('hearth'));
            socket.once('message', resolve);
            socket.once('error', reject);
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 1500)); // as the bench waits for a site
        rss[step] = rssMB(child.pid);
      } finally {
        socket?.terminate();
        child.kill();
        await exited;
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rss;
}

