// The website's figures for `npm run bench`: first-load JavaScript (gzip) of the app, and the first
// contentful paint of a public profile with 50 posts in headless Chromium, beside a plain static
// HTML page with the same 50 posts served by a bare Node http server, in the same run. Then the
// owner's Home with 1,000 posts in its feed: time to the first feed item on screen and to the next
// page after "Load older posts", beside the same items as static HTML (first 20, next 20).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const root = path.resolve(import.meta.dirname, '..');
const HEARTH = path.join(root, 'packages/cli/bin/hearth.js');
const RUNS = 7;

/** What the browser downloads before the app runs: the scripts and styles index.html names. */
export function firstLoadBytes() {
  const dist = path.join(root, 'packages/web/dist');
  const html = fs.readFileSync(path.join(dist, 'index.html'), 'utf8');
  const assets = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  let js = 0;
  let css = 0;
  for (const asset of assets) {
    const size = zlib.gzipSync(fs.readFileSync(path.join(dist, asset)), { level: 9 }).length;
    if (asset.endsWith('.js')) js += size;
    else css += size;
  }
  return { jsGzipKB: js / 1024, cssGzipKB: css / 1024 };
}

async function fcp(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'load' });
  const value = await page.evaluate(() => new Promise((resolve) => {
    const entry = performance.getEntriesByName('first-contentful-paint')[0];
    if (entry) return resolve(entry.startTime);
    new PerformanceObserver((list) => resolve(list.getEntries()[0].startTime)).observe({ type: 'paint', buffered: true });
  }));
  await context.close();
  return value;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function webBench({ freePort, log }) {
  const sizes = firstLoadBytes();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-webbench-'));
  const port = await freePort();
  execFileSync(process.execPath, [HEARTH, 'init', '--data', dir, '--url', `http://127.0.0.1:${port}`, '--user', 'bob', '--password', 'bench-password', '--dev'], { stdio: 'pipe' });
  const site = spawn(process.execPath, [HEARTH, 'start', '--data', dir, '--log-level', 'warn'], { stdio: 'ignore' });
  const staticServer = http.createServer();
  const browser = await chromium.launch({
    executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`${base}/healthz`).catch(() => undefined))?.ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const { token } = await (await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob', password: 'bench-password' }) })).json();
    for (let i = 0; i < 50; i++) {
      await fetch(`${base}/api/posts`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text: `Post ${i}: ${'a few words about the day, '.repeat(6)}` }) });
    }
    // 950 more, for a Home feed of 1,000 (the owner's own posts are on their Home).
    await Promise.all(
      Array.from({ length: 4 }, async (_, worker) => {
        for (let i = 50 + worker; i < 1000; i += 4) {
          await fetch(`${base}/api/posts`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text: `Post ${i}: ${'a few words about the day, '.repeat(6)}` }) });
        }
      }),
    );
    // The static twin: the same 50 posts as plain HTML with the same stylesheet, no script.
    const posts = (await (await fetch(`${base}/api/users/bob/posts?limit=50`)).json()).items.slice(0, 50);
    const css = fs.readFileSync(path.join(root, 'packages/web/src/styles.css'), 'utf8');
    const escape = (t) => t.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
    const staticHtml = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bob</title><style>${css}</style></head><body><main><h1>bob</h1>${posts.map((p) => `<article class="post"><p>${escape(p.text)}</p></article>`).join('')}</main></body></html>`;
    staticServer.on('request', (_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(staticHtml));
    const staticPort = await freePort();
    await new Promise((resolve) => staticServer.listen(staticPort, '127.0.0.1', resolve));
    await fcp(browser, `${base}/@bob`); // warm both, so neither pays for a cold start
    await fcp(browser, `http://127.0.0.1:${staticPort}/`);
    const hearth = [];
    const plain = [];
    for (let i = 0; i < RUNS; i++) {
      hearth.push(await fcp(browser, `${base}/@bob`));
      plain.push(await fcp(browser, `http://127.0.0.1:${staticPort}/`));
    }
    const home = await homeFeedBench({ browser, base, token, staticServerFor: (html) => serveStatic(html, freePort), css, escape, runs: RUNS });
    const result = { ...sizes, fcpMs: median(hearth), staticFcpMs: median(plain), ...home };
    log(`Website: first-load JS ${result.jsGzipKB.toFixed(1)} KB gzip (aim < 150), CSS ${result.cssGzipKB.toFixed(1)} KB`);
    log(`         FCP of a 50-post profile ${result.fcpMs.toFixed(0)} ms vs the static page ${result.staticFcpMs.toFixed(0)} ms = ${(result.fcpMs / result.staticFcpMs).toFixed(2)}x (aim <= 2x; median of ${RUNS})`);
    log(`         Home with ${home.feedItems} feed items: first feed item on screen ${home.homeFirstPaintMs.toFixed(0)} ms vs the same first 20 as static HTML ${home.staticFirstPaintMs.toFixed(0)} ms = ${(home.homeFirstPaintMs / home.staticFirstPaintMs).toFixed(2)}x; next page ${home.homeNextPageMs.toFixed(0)} ms after the click vs the next 20 as a static page ${home.staticNextPageMs.toFixed(0)} ms = ${(home.homeNextPageMs / home.staticNextPageMs).toFixed(2)}x (median of ${RUNS})`);
    return result;
  } finally {
    await browser.close();
    staticServer.close();
    site.kill('SIGTERM');
    await new Promise((r) => site.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function serveStatic(html, freePort) {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/`, close: () => server.close() };
}

/**
 * The owner's Home in the app, logged in (the token put where the app keeps it): from navigation
 * to the first feed item on screen (the next animation frame after it is in the page), and from
 * the "Load older posts" click to the next page on screen. Beside them, the first contentful paint
 * of static pages holding the same items.
 */
async function homeFeedBench({ browser, base, token, staticServerFor, css, escape, runs }) {
  const headers = { authorization: `Bearer ${token}` };
  const first = await (await fetch(`${base}/api/feed?limit=20`, { headers })).json();
  const second = await (await fetch(`${base}/api/feed?limit=20&before=${encodeURIComponent(first.next)}`, { headers })).json();
  let feedItems = 0;
  for (let page = first; ; ) {
    feedItems += page.items.length;
    if (!page.next) break;
    page = await (await fetch(`${base}/api/feed?limit=100&before=${encodeURIComponent(page.next)}`, { headers })).json();
  }
  const render = (items) =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Home</title><style>${css}</style></head><body><main><h1>Home</h1><section>${items.map((p) => `<article class="post"><p>${escape(p.author)}</p><p>${escape(p.text)}</p></article>`).join('')}</section></main></body></html>`;
  const firstStatic = await staticServerFor(render(first.items));
  const nextStatic = await staticServerFor(render(second.items));
  const measure = async () => {
    const context = await browser.newContext();
    await context.addInitScript(([t]) => {
      localStorage.setItem('hearth.token', t);
      localStorage.setItem('hearth.username', 'bob');
      // When the first feed item is in the page, the frame after it is when it is on screen.
      new MutationObserver((_, observer) => {
        if (!document.querySelector('section[aria-label="Feed"] article.post')) return;
        observer.disconnect();
        requestAnimationFrame(() => (window.__firstFeedPaint = performance.now()));
      }).observe(document, { childList: true, subtree: true });
    }, [token]);
    const page = await context.newPage();
    await page.goto(`${base}/home`);
    await page.waitForFunction(() => window.__firstFeedPaint !== undefined);
    const firstPaint = await page.evaluate(() => window.__firstFeedPaint);
    const button = page.getByRole('button', { name: 'Load older posts' });
    await button.waitFor();
    const next = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const count = () => document.querySelectorAll('section[aria-label="Feed"] article.post').length;
          const before = count();
          const started = performance.now();
          new MutationObserver((_, observer) => {
            if (count() <= before) return;
            observer.disconnect();
            requestAnimationFrame(() => resolve(performance.now() - started));
          }).observe(document.body, { childList: true, subtree: true });
          [...document.querySelectorAll('button')].find((b) => b.textContent === 'Load older posts').click();
        }),
    );
    await context.close();
    return { firstPaint, next };
  };
  try {
    await measure(); // warm
    await fcp(browser, firstStatic.url);
    const home = [];
    const staticFirst = [];
    const staticNext = [];
    for (let i = 0; i < runs; i++) {
      home.push(await measure());
      staticFirst.push(await fcp(browser, firstStatic.url));
      staticNext.push(await fcp(browser, nextStatic.url));
    }
    return {
      feedItems,
      homeFirstPaintMs: median(home.map((h) => h.firstPaint)),
      homeNextPageMs: median(home.map((h) => h.next)),
      staticFirstPaintMs: median(staticFirst),
      staticNextPageMs: median(staticNext),
    };
  } finally {
    firstStatic.close();
    nextStatic.close();
  }
}
