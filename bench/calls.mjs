// Call figures for `npm run bench`: the median call setup time (click "Video call" to the first
// media from the other side) and data channel throughput (a 20 MB file), direct and relayed through
// the sites' own coturn, for two browsers on two Hearth sites. Beside them, in the same run and the
// same Chromium: a plain RTCPeerConnection pair inside one page, with no signalling through sites.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { NODE_ENV, NODE_FLAGS } from '../scripts/runtime.mjs';
import { api, freePort, waitFor } from './lib.mjs';

const root = path.resolve(import.meta.dirname, '..');
const HEARTH = path.join(root, 'packages/cli/bin/hearth.js');
const RUNS = Number(process.env.BENCH_CALL_RUNS ?? 5);
const FILE_MB = 20;
const cli = (args) => execFileSync(process.execPath, [HEARTH, ...args], { cwd: root, stdio: 'pipe' }).toString();
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The plain baseline, run inside one page: two RTCPeerConnections wired to each other directly. */
async function baseline(page, { relay, iceServers, fileBytes, chunk }) {
  return page.evaluate(
    async ({ relay, iceServers, fileBytes, chunk }) => {
      const config = { iceServers, iceTransportPolicy: relay ? 'relay' : 'all' };
      const started = performance.now();
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      const pc1 = new RTCPeerConnection(config);
      const pc2 = new RTCPeerConnection(config);
      pc1.onicecandidate = (e) => e.candidate && pc2.addIceCandidate(e.candidate);
      pc2.onicecandidate = (e) => e.candidate && pc1.addIceCandidate(e.candidate);
      const media = new Promise((resolve) => (pc2.ontrack = (e) => e.track.addEventListener('unmute', () => resolve(performance.now()), { once: true })));
      for (const track of stream.getTracks()) pc1.addTrack(track, stream);
      const channel = pc1.createDataChannel('chat', { ordered: true });
      const incoming = new Promise((resolve) => (pc2.ondatachannel = (e) => resolve(e.channel)));
      await pc1.setLocalDescription(await pc1.createOffer());
      await pc2.setRemoteDescription(pc1.localDescription);
      await pc2.setLocalDescription(await pc2.createAnswer());
      await pc1.setRemoteDescription(pc2.localDescription);
      const setupMs = (await media) - started;
      const receiver = await incoming;
      receiver.binaryType = 'arraybuffer';
      if (channel.readyState !== 'open') await new Promise((r) => channel.addEventListener('open', r, { once: true }));
      const data = new Uint8Array(fileBytes);
      let received = 0;
      let firstAt;
      const done = new Promise((resolve) => {
        receiver.onmessage = (e) => {
          firstAt ??= performance.now();
          received += e.data.byteLength;
          if (received >= fileBytes) resolve(performance.now());
        };
      });
      // The same chunking and back-pressure as the call screen's file sending.
      channel.bufferedAmountLowThreshold = 1024 * 1024;
      for (let offset = 0; offset < fileBytes; offset += chunk) {
        if (channel.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => channel.addEventListener('bufferedamountlow', r, { once: true }));
        channel.send(data.slice(offset, offset + chunk));
      }
      const seconds = ((await done) - firstAt) / 1000;
      for (const track of stream.getTracks()) track.stop();
      pc1.close();
      pc2.close();
      return { setupMs, mbps: fileBytes / 1024 / 1024 / seconds };
    },
    { relay, iceServers, fileBytes, chunk },
  );
}

export async function callBench() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-calls-'));
  const sites = [];
  let browser;
  try {
    for (const user of ['alice', 'bob']) {
      const port = await freePort();
      const dir = path.join(work, user);
      const url = `http://127.0.0.1:${port}`;
      cli(['init', '--data', dir, '--url', url, '--user', user, '--password', 'bench-password', '--dev']);
      cli(['turn', 'config', '--data', dir, '--port', String(await freePort()), '--min-port', user === 'alice' ? '41000' : '41200', '--max-port', user === 'alice' ? '41199' : '41399']);
      const proc = spawn(process.execPath, [...NODE_FLAGS, HEARTH, 'start', '--data', dir, '--log-level', 'warn', '--turn'], { cwd: root, stdio: 'ignore', env: { ...process.env, ...NODE_ENV } });
      sites.push({ user, url, proc, address: `${user}@127.0.0.1:${port}` });
    }
    for (const site of sites) await waitFor(async () => (await fetch(`${site.url}/healthz`).catch(() => undefined))?.ok, 60_000, 20, site.url);
    const [alice, bob] = sites;
    for (const [me, them] of [[alice, bob], [bob, alice]]) {
      me.token = (await api(me.url, 'POST', '/api/auth/login', { body: { username: me.user, password: 'bench-password' } })).token;
      await api(me.url, 'POST', '/api/following', { token: me.token, body: { address: them.address } });
    }
    browser = await chromium.launch({
      executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'],
    });
    for (const site of sites) {
      site.page = await (await browser.newContext()).newPage();
      await site.page.goto(`${site.url}/login`);
      await site.page.getByLabel('Username').fill(site.user);
      await site.page.getByLabel('Password').fill('bench-password');
      await site.page.getByRole('button', { name: 'Log in' }).click();
      await site.page.waitForURL(`${site.url}/home`);
    }
    const file = { name: 'bench.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(FILE_MB * 1024 * 1024, 7) };

    const hearthCall = async () => {
      await bob.page.goto(`${bob.url}/home`);
      await alice.page.goto(`${alice.url}/messages`);
      await alice.page.getByPlaceholder('Message someone: name@example.com').fill(bob.address);
      await alice.page.getByRole('button', { name: 'Open' }).click();
      // Bob answers the moment the ring shows: an observer in his page clicks "Answer" as soon as
      // the dialog appears. Polling for it from here took 200-700 ms under load (each look is a
      // round trip to the browser), all of which counted in the setup time as if Bob were slow.
      await bob.page.evaluate((label) => {
        const observer = new MutationObserver(() => {
          const dialog = document.querySelector(`[role="dialog"][aria-label="${label}"]`);
          const answer = dialog && [...dialog.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Answer');
          if (!answer) return;
          observer.disconnect();
          answer.click();
        });
        observer.observe(document.body, { childList: true, subtree: true });
      }, `Incoming video call from ${alice.address}`);
      await alice.page.getByRole('button', { name: 'Video call' }).click();
      const setupText = await waitFor(async () => /Connected in ([\d.]+) s/.exec(await alice.page.locator('.call-status').innerText().catch(() => ''))?.[1], 60_000, 20, 'media');
      // The figures sit behind "Connection details" (closed): their text, not their look.
      const pathText = await waitFor(async () => /Path: (direct|relayed[^·]*)/.exec(((await alice.page.locator('.call-stats').textContent({ timeout: 2_000 }).catch(() => '')) ?? '').replace(/\s+/g, ' '))?.[1], 60_000, 20, 'the path');
      await alice.page.setInputFiles('#call-file', file);
      const mbps = await waitFor(async () => /at ([\d.]+) MB\/s/.exec(await bob.page.locator('.call-chat').innerText().catch(() => ''))?.[1], 120_000, 20, 'the file');
      await alice.page.getByRole('button', { name: 'Hang up' }).click();
      await alice.page.getByRole('button', { name: 'Close' }).click();
      await waitFor(async () => (await bob.page.getByRole('button', { name: 'Close' }).count()) === 1, 60_000, 20, 'the hang-up');
      await bob.page.getByRole('button', { name: 'Close' }).click();
      return { setupMs: Number(setupText) * 1000, mbps: Number(mbps), path: pathText.trim() };
    };

    const results = {};
    for (const mode of ['direct', 'relay']) {
      for (const site of sites) await site.page.evaluate((on) => localStorage.setItem('hearth.alwaysRelay', on ? '1' : '0'), mode === 'relay');
      const calls = [];
      for (let i = 0; i < RUNS; i++) calls.push(await hearthCall());
      const expected = mode === 'direct' ? /^direct$/ : /^relayed/;
      if (!calls.every((c) => expected.test(c.path))) throw new Error(`${mode} calls took another path: ${calls.map((c) => c.path).join(', ')}`);
      const turn = await api(alice.url, 'GET', '/api/turn-credentials', { token: alice.token });
      const iceServers = [{ urls: turn.urls, username: turn.username, credential: turn.credential }];
      await alice.page.goto(`${alice.url}/settings`);
      const plain = [];
      for (let i = 0; i < RUNS; i++) plain.push(await baseline(alice.page, { relay: mode === 'relay', iceServers, fileBytes: file.buffer.length, chunk: 16 * 1024 }));
      results[mode] = {
        setupMs: median(calls.map((c) => c.setupMs)),
        mbps: median(calls.map((c) => c.mbps)),
        plainSetupMs: median(plain.map((p) => p.setupMs)),
        plainMbps: median(plain.map((p) => p.mbps)),
      };
    }
    return results;
  } finally {
    await browser?.close();
    for (const site of sites) site.proc.kill('SIGTERM'); // SIGTERM: each site stops its coturn too
    await Promise.all(sites.map((s) => (s.proc.exitCode === null ? new Promise((r) => s.proc.once('exit', r)) : undefined)));
    fs.rmSync(work, { recursive: true, force: true });
  }
}
