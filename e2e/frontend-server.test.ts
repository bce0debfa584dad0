import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, SiteProcess } from '../tests/helpers/sites.js';
import { launchBrowser, screenshots } from './browser.js';

/**
 * The app served by a separate front-end server (as a CDN would), pointed at its backend by the
 * hearth-backend meta tag; the backend answers CORS for that origin only (docs/DEPLOY.md).
 */
describe('the web app on a separate front-end server', () => {
  let browser: Browser;
  let site: SiteProcess;
  let frontend: http.Server;
  let frontendUrl = '';

  beforeAll(async () => {
    const port = await freePort();
    frontendUrl = `http://127.0.0.1:${port}`;
    site = await SiteProcess.create(['fran'], { start: false });
    const configFile = path.join(site.dataDir, 'hearth.json');
    fs.writeFileSync(configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, 'utf8')), frontendOrigins: [frontendUrl] }));
    await site.start();
    await site.api('POST', '/api/posts', { as: 'fran', body: { text: 'Served from elsewhere' } });
    // A plain static server: the built files, index.html for every app route, the backend named in the meta tag.
    const dist = path.join(ROOT, 'packages/web/dist');
    const index = fs.readFileSync(path.join(dist, 'index.html'), 'utf8').replace('<meta name="hearth-backend" content="">', `<meta name="hearth-backend" content="${site.url}">`);
    frontend = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', frontendUrl);
      const file = path.join(dist, path.normalize(url.pathname));
      if (url.pathname.startsWith('/assets/') && file.startsWith(dist) && fs.existsSync(file)) {
        res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/css' }).end(fs.readFileSync(file));
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(index);
      }
    });
    await new Promise<void>((resolve) => frontend.listen(port, '127.0.0.1', resolve));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    frontend?.close();
    await site?.destroy();
  });

  it('a visitor and the owner use the app from the other origin', async () => {
    const page = await browser.newPage();
    await page.goto(`${frontendUrl}/@fran`);
    await expect.poll(() => page.locator('article.post').first().innerText()).toContain('Served from elsewhere');
    await page.goto(`${frontendUrl}/login`);
    await page.getByLabel('Username').fill('fran');
    await page.getByLabel('Password').fill(SiteProcess.password('fran'));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${frontendUrl}/home`);
    await page.getByLabel(/What's on your mind/).fill('Posted through the front-end server');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain('Posted.');
    expect((await site.api('GET', '/api/users/fran/posts')).body.items[0].text).toBe('Posted through the front-end server');
    await screenshots(page, 'frontend-server-home');
    await page.close();
  });

  it('the backend answers CORS for the listed front-end only', async () => {
    const allowed = await fetch(`${site.url}/api/me`, { method: 'OPTIONS', headers: { origin: frontendUrl, 'access-control-request-method': 'GET' } });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(frontendUrl);
    const other = await fetch(`${site.url}/api/users/fran`, { headers: { origin: 'http://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBe('*'); // public data is public anyway
    const owner = await fetch(`${site.url}/api/me`, { headers: { origin: 'http://evil.example', authorization: `Bearer ${await site.token('fran')}` } });
    expect(owner.headers.get('access-control-allow-origin')).toBeNull();
  });
});
