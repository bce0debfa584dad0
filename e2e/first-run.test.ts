import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, HEARTH, ROOT, tempDir, waitFor } from '../tests/helpers/sites.js';
import { seriousViolations } from './axe.js';
import { launchBrowser, screenshots } from './browser.js';

/** `npm start` on an empty folder: the setup link, then name, password, done, and you are home. */
describe('first run in the browser', () => {
  let browser: Browser;
  let site: ChildProcess;
  let output = '';
  let url = '';

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    browser = await launchBrowser();
    site = spawn(process.execPath, [HEARTH, 'start', '--init', '--data', path.join(tempDir('firstrun'), 'data'), '--url', url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    site.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor('the setup link', () => /\/setup\?code=/.test(output));
  });
  afterAll(async () => {
    await browser?.close();
    site?.kill('SIGTERM');
  });

  it('refuses setup without the printed code', async () => {
    const res = await fetch(`${url}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'guess', username: 'mallory', password: 'password1', displayName: 'M' }) });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe('bad_setup_code');
  });

  it('the printed link sets the site up, and its owner lands on their home', async () => {
    const link = /(http:\/\/\S+\/setup\?code=\S+)/.exec(output)![1]!;
    const page = await browser.newPage();
    await page.goto(link);
    await page.getByLabel('Your name').waitFor();
    // The one-time code leaves the address bar at once (and with it, the history and a screen share).
    expect(page.url()).toBe(`${url}/setup`);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('Your name').fill('Dana Owner');
    await page.getByLabel(/^Username/).fill('dana');
    await page.getByLabel(/^Password/).fill('dana-first-password');
    await screenshots(page, 'setup');
    await page.getByRole('button', { name: 'Create my site' }).click();
    await page.waitForURL(`${url}/home`);
    // Back does not lead to the setup page with its code.
    expect(await page.evaluate(() => window.history.length)).toBeLessThanOrEqual(2);
    await expect.poll(() => page.getByRole('heading', { name: 'Home' }).count()).toBe(1);
    // Done once: the code is spent and the site now shows its owner.
    const again = await fetch(`${url}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'x', username: 'eve', password: 'password1', displayName: 'E' }) });
    expect((await again.json()).error.code).toBe('already_set_up');
    const front = await (await fetch(`${url}/`)).text();
    expect(front).toContain('<title>Dana Owner (dana@127.0.0.1:');
    await page.close();
  });
});
