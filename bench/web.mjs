// The website's figures for `npm run bench`: first-load JavaScript (gzip) of the app, and the first
// contentful paint of a public profile with 50 posts in headless Chromium, beside a plain static
// HTML page with the same 50 posts served by a bare Node http server, in the same run.
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
    // The static twin: the same 50 posts as plain HTML with the same stylesheet, no script.
    const posts = (await (await fetch(`${base}/api/users/bob/posts?limit=50`)).json()).items;
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
    const result = { ...sizes, fcpMs: median(hearth), staticFcpMs: median(plain) };
    log(`Website: first-load JS ${result.jsGzipKB.toFixed(1)} KB gzip (aim < 150), CSS ${result.cssGzipKB.toFixed(1)} KB`);
    log(`         FCP of a 50-post profile ${result.fcpMs.toFixed(0)} ms vs the static page ${result.staticFcpMs.toFixed(0)} ms = ${(result.fcpMs / result.staticFcpMs).toFixed(2)}x (aim <= 2x; median of ${RUNS})`);
    return result;
  } finally {
    await browser.close();
    staticServer.close();
    site.kill('SIGTERM');
    await new Promise((r) => site.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
