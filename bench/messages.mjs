// Messages that open instantly, for `npm run bench`: bob's browser holds a conversation of 5,000
// direct messages from alice (real ones: encrypted to his browser's device, signed by alice's).
// - Opening it: from navigation to /messages?with=alice to its latest message on screen, when the
//   browser kept the history (IndexedDB, encrypted at rest). Beside it, in the same run: the same
//   page with nothing kept (everything fetched and decrypted), and a static HTML page with the
//   same 100 latest messages, what the page shows first (first contentful paint).
// - A new message while it is open: from bob's site telling his page (its live event, sent once
//   the message is stored there) to the message on his screen; and from alice's site answering her
//   POST /api/dms, which adds the hop between the two sites.
// `node bench/messages.mjs` runs it alone (BENCH_DM_HISTORY=N for another size).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chromium } from 'playwright-core';
import { certifiedDevices, encryptDm, newEnvelopeId, signDmPlaintext } from '@hearth/protocol';
import { nodeX25519 } from '@hearth/protocol/node';
import { api, freePort, hearthCli, ROOT, startSite, waitFor } from './lib.mjs';

const HISTORY = Number(process.env.BENCH_DM_HISTORY ?? 5000);
const RUNS = 5;
const NEW_MESSAGES = 10;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The bench's lines for these figures. */
export function messagesLines(r) {
  return [
    `Messages: opening a conversation of ${r.history} messages kept in the browser, navigation to the latest on screen ${r.openKeptMs.toFixed(0)} ms (aim < 200 ms; median of ${RUNS}); with nothing kept (all fetched and decrypted) ${r.openColdMs.toFixed(0)} ms; the latest 100 (what the page shows first) as a static page ${r.staticMs.toFixed(0)} ms = ${(r.openKeptMs / r.staticMs).toFixed(2)}x`,
    `          a new message in that open conversation (${NEW_MESSAGES} messages), from the receiver's site telling the page to the message on screen: median ${r.newDmFromSiteMs.toFixed(0)} ms, max ${r.newDmFromSiteMaxMs.toFixed(0)} ms (aim < 100 ms); from the sender's site answering: median ${r.newDmMs.toFixed(0)} ms, max ${r.newDmMaxMs.toFixed(0)} ms`,
  ];
}

export async function messagesBench({ log = console.log } = {}) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-messages-'));
  const [portA, portB] = [await freePort(), await freePort()];
  const [urlA, urlB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
  const [dirA, dirB, aliceProfile] = ['alice', 'bob', 'alice-device'].map((d) => path.join(work, d));
  hearthCli(['init', '--data', dirA, '--url', urlA, '--user', 'alice', '--password', 'bench-password', '--dev']);
  hearthCli(['init', '--data', dirB, '--url', urlB, '--user', 'bob', '--password', 'bench-password', '--dev']);
  const sites = [startSite(dirA), startSite(dirB)];
  const staticServer = http.createServer();
  const browser = await chromium.launch({
    executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const url of [urlA, urlB]) await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok);
    const alice = `alice@127.0.0.1:${portA}`;
    const bob = `bob@127.0.0.1:${portB}`;

    // bob's browser becomes one of his devices, as a person's does: by logging in.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${urlB}/login`);
    await page.getByLabel('Username').fill('bob');
    await page.getByLabel('Password').fill('bench-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${urlB}/home`);
    const bobToken = (await api(urlB, 'POST', '/api/auth/login', { body: { username: 'bob', password: 'bench-password' } })).token;
    await waitFor(async () => (await api(urlB, 'GET', '/api/me', { token: bobToken })).devices.length > 0);

    // alice's device (the CLI's) writes the history: sealed in this process, sent through her site.
    hearthCli(['login', '--profile', aliceProfile, '--site', urlA, '--user', 'alice', '--password', 'bench-password']);
    const me = JSON.parse(fs.readFileSync(path.join(aliceProfile, 'profile.json'), 'utf8'));
    const peer = await api(urlA, 'GET', `/api/lookup?address=${encodeURIComponent(bob)}`, { token: me.token });
    const mine = await api(urlA, 'GET', '/api/me', { token: me.token });
    const targets = [...certifiedDevices({ address: bob, identityKey: peer.identityKey, devices: peer.devices }), ...certifiedDevices({ address: alice, identityKey: me.identity.publicKey, devices: mine.devices })];
    const seal = (text, sentAt) => encryptDm(signDmPlaintext(me.device, { id: newEnvelopeId(), from: alice, to: bob, sentAt, text }), targets, undefined, nodeX25519);
    const post = (message) => api(urlA, 'POST', '/api/dms', { token: me.token, body: { to: bob, message } });
    const start = Date.now() - 24 * 60 * 60 * 1000;
    const texts = Array.from({ length: HISTORY }, (_, i) => `bench message ${i}: ${'how was the day, '.repeat(4)}`);
    const sealed = texts.map((text, i) => seal(text, new Date(start + i * 1000).toISOString()));
    const stored = new Database(path.join(dirB, 'hearth.db'), { readonly: true });
    const countStored = () => stored.prepare("select count(*) n from dm_messages where username = 'bob'").get().n;
    let next = 0;
    log(`Messages bench: sending ${HISTORY} DMs to bob's browser…`);
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < sealed.length) await post(sealed[next++]);
    }));
    await waitFor(() => countStored() >= HISTORY, 300_000, 100, 'the history to reach bob');
    const latest = texts[HISTORY - 1];

    // When the latest message is in the page, the next animation frame is when it is on screen.
    // And when the site's live event for a DM reached the page (bob's site had stored it then).
    await context.addInitScript(() => {
      window.__dmEvents = [];
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          this.addEventListener('message', (event) => {
            if (typeof event.data === 'string' && event.data.includes('"kind":"dm"')) window.__dmEvents.push(Date.now());
          });
        }
      };
      window.__painted = new Promise((resolve) => {
        const look = () => {
          const items = document.querySelectorAll('ol.thread li p');
          return items.length > 0 && items[items.length - 1].textContent?.startsWith(window.__latest ?? '\u0000');
        };
        new MutationObserver((_, observer) => {
          if (!look()) return;
          observer.disconnect();
          requestAnimationFrame(() => resolve(performance.now()));
        }).observe(document, { childList: true, subtree: true });
      });
    });
    const open = async () => {
      await page.goto('about:blank');
      await page.addInitScript((text) => (window.__latest = text), latest);
      await page.goto(`${urlB}/messages?with=${encodeURIComponent(alice)}`);
      // Bounded: a page that never shows the latest message fails the bench with what it shows.
      let timer;
      const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), 60_000)));
      try {
        return await Promise.race([page.evaluate(() => window.__painted), late]);
      } catch (error) {
        if (error.message !== 'timeout') throw error;
        const shown = await page.evaluate(() => ({ url: location.href, status: document.querySelector('[role="status"], .error, .hint')?.textContent ?? '', last: [...document.querySelectorAll('ol.thread li p')].slice(-2).map((p) => p.textContent) }));
        throw new Error(`the latest message was not on screen 60 s after opening the conversation: ${JSON.stringify(shown)}`);
      } finally {
        clearTimeout(timer);
      }
    };
    // With nothing kept: the first open in this browser fetches and decrypts all of it (and keeps it).
    const openColdMs = await open();
    // Kept a moment later, once the page has written it (a person stays longer than the bench).
    const keptChunks = () =>
      page.evaluate(() => new Promise((resolve) => {
        const request = indexedDB.open('hearth-history');
        request.onsuccess = () => {
          const db = request.result;
          const count = db.transaction('chunks').objectStore('chunks').count();
          count.onsuccess = () => (db.close(), resolve(count.result));
        };
        request.onerror = () => resolve(0);
      }));
    await waitFor(async () => (await keptChunks()) > 0, 60_000, 50, 'the history to be kept');
    const kept = [];
    await open(); // warm
    for (let i = 0; i < RUNS; i++) kept.push(await open());
    if (process.env.BENCH_DM_DEBUG) {
      // Where the time went in the last open: what was fetched, when (ms from navigation).
      const entries = await page.evaluate(() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource'), ...performance.getEntriesByType('paint'), ...performance.getEntriesByType('mark')].map((e) => [e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.responseEnd ?? e.startTime)]));
      for (const [name, startMs, endMs] of entries) log(`  ${String(startMs).padStart(5)} ${String(endMs).padStart(5)}  ${name}`);
    }

    // The static twin: the latest 100 messages as plain HTML with the app's stylesheet.
    const css = fs.readFileSync(path.join(ROOT, 'packages/web/src/styles.css'), 'utf8');
    const escape = (t) => t.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
    const staticHtml = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Messages</title><style>${css}</style></head><body><main class="messages"><h1>Messages</h1><ol class="thread">${texts.slice(-100).map((t) => `<li class="theirs"><p>${escape(t)}</p></li>`).join('')}</ol></main></body></html>`;
    staticServer.on('request', (_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(staticHtml));
    const staticPort = await freePort();
    await new Promise((resolve) => staticServer.listen(staticPort, '127.0.0.1', resolve));
    const staticPaint = async () => {
      const p = await context.newPage();
      await p.goto(`http://127.0.0.1:${staticPort}/`, { waitUntil: 'load' });
      const value = await p.evaluate(() => new Promise((resolve) => {
        const entry = performance.getEntriesByName('first-contentful-paint')[0];
        if (entry) return resolve(entry.startTime);
        new PerformanceObserver((list) => resolve(list.getEntries()[0].startTime)).observe({ type: 'paint', buffered: true });
      }));
      await p.close();
      return value;
    };
    await staticPaint();
    const plain = [];
    for (let i = 0; i < RUNS; i++) plain.push(await staticPaint());

    // New messages while the conversation is open: the page records when each is on screen.
    await open();
    const delays = [];
    const fromSite = [];
    for (let i = 0; i < NEW_MESSAGES; i++) {
      const events = await page.evaluate(() => window.__dmEvents.length);
      const text = `new message ${i} ${newEnvelopeId()}`;
      const shown = page.evaluate((t) => new Promise((resolve) => {
        new MutationObserver((_, observer) => {
          const items = document.querySelectorAll('ol.thread li p');
          if (items[items.length - 1]?.textContent !== t) return;
          observer.disconnect();
          requestAnimationFrame(() => resolve(Date.now()));
        }).observe(document.querySelector('ol.thread'), { childList: true, subtree: true });
      }), text);
      // The observer is in place before the message leaves.
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
      await post(seal(text, new Date().toISOString()));
      const answered = Date.now();
      const onScreen = await shown;
      delays.push(onScreen - answered);
      fromSite.push(onScreen - (await page.evaluate((n) => window.__dmEvents[n], events)));
    }
    stored.close();
    return {
      history: HISTORY,
      openKeptMs: median(kept),
      openColdMs,
      staticMs: median(plain),
      newDmMs: median(delays),
      newDmMaxMs: Math.max(...delays),
      newDmFromSiteMs: median(fromSite),
      newDmFromSiteMaxMs: Math.max(...fromSite),
    };
  } finally {
    await browser.close();
    staticServer.close();
    for (const site of sites) site.kill('SIGTERM');
    await Promise.all(sites.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await messagesBench();
  for (const line of messagesLines(result)) console.log(line);
  console.log(JSON.stringify(result));
}
