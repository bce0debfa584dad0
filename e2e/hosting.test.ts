import http from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../tests/helpers/service.js';
import { hearth, SiteProcess } from '../tests/helpers/sites.js';
import { seriousViolations } from './axe.js';
import { launchBrowser, screenshots } from './browser.js';

/**
 * The hosting panel and the public signup page in Chromium (issue 12). One dev service: its panel
 * on 127.0.0.1, its sites named NAME.hearth.test (Chromium resolves *.hearth.test to this machine,
 * as a wildcard DNS record would). The vendor signs in, creates a site, suspends, backs up, deletes
 * and restores; a person signs up, lands on their new site and posts.
 */
describe('the hosting panel and signup in the browser', { timeout: 180_000 }, () => {
  let service: ServiceProcess;
  let browser: Browser;
  let vendor: Page;
  const VENDOR_PASSWORD = 'vendor-secret-pw';
  const panel = () => `http://127.0.0.1:${service.port}`;
  const siteUrl = (name: string) => `http://${name}.hearth.test:${service.port}`;

  beforeAll(async () => {
    service = await ServiceProcess.create({ '127.0.0.2': ['alice'] });
    await hearth(['service', 'admin', '--data', service.dataDir, '--user', 'vendor', '--password', VENDOR_PASSWORD]);
    await hearth(['service', 'settings', '--data', service.dataDir, '--panel-host', '127.0.0.1', '--base-domain', 'hearth.test', '--signup', 'on']);
    await service.stop();
    await service.start();
    browser = await launchBrowser({ args: ['--host-resolver-rules=MAP *.hearth.test 127.0.0.1'], secureOrigins: ['dora', 'carol'].map(siteUrl) });
    vendor = await (await browser.newContext()).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await service?.destroy();
  });

  /** A GET to one of the service's sites by its name (fetch does not let a Host header be set). */
  const siteGet = (name: string, urlPath: string) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: service.port, path: urlPath, headers: { host: `${name}.hearth.test:${service.port}`, accept: 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
        })
        .on('error', reject);
    });

  const row = (name: string) => vendor.getByRole('row').filter({ has: vendor.getByRole('rowheader', { name }) });

  it('the vendor signs in and creates a site; a bad domain gets a clear error and creates nothing', async () => {
    await vendor.goto(`${panel()}/`);
    await vendor.waitForURL(`${panel()}/login`);
    expect(await seriousViolations(vendor)).toEqual([]);
    await vendor.getByLabel('Username').fill('vendor');
    await vendor.getByLabel('Password').fill('wrong password!');
    await vendor.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => vendor.getByRole('alert').innerText()).toContain('do not match');
    await vendor.getByLabel('Password').fill(VENDOR_PASSWORD);
    await vendor.getByRole('button', { name: 'Sign in' }).click();
    await vendor.waitForURL(`${panel()}/`);
    await expect.poll(() => row('127.0.0.2').count()).toBe(1);

    const form = vendor.getByRole('form', { name: 'New site' });
    await form.getByLabel('Domain').fill('carol.hearth.test:8443');
    await form.getByLabel("First person's username").fill('carol');
    await form.getByLabel('Their password').fill(SiteProcess.password('carol'));
    await form.getByRole('button', { name: 'Create site' }).click();
    await expect.poll(() => vendor.getByRole('alert').innerText()).toContain('without a port');
    await screenshots(vendor, 'hosting-panel-error');

    await form.getByLabel('Domain').fill('carol');
    await form.getByLabel('Their password').fill(SiteProcess.password('carol'));
    await form.getByRole('button', { name: 'Create site' }).click();
    await expect.poll(() => vendor.getByRole('status').innerText()).toContain('Created carol.hearth.test');
    await expect.poll(() => row('carol.hearth.test').getByText('active').count()).toBe(1);
    expect(await seriousViolations(vendor)).toEqual([]);
    // Limits: a bad number is explained; saved ones show in the list.
    await row('carol.hearth.test').getByRole('link', { name: 'Limits: carol.hearth.test' }).click();
    await vendor.getByLabel('Posts per hour').fill('many');
    await vendor.getByRole('button', { name: 'Save limits' }).click();
    await expect.poll(() => vendor.getByRole('alert').innerText()).toContain('type a number above 0');
    expect(await seriousViolations(vendor)).toEqual([]);
    await vendor.getByLabel('Posts per hour').fill('30');
    await vendor.getByLabel('Storage (MB)').fill('250');
    await vendor.getByRole('button', { name: 'Save limits' }).click();
    await expect.poll(() => row('carol.hearth.test').innerText()).toContain('30 posts/hour');
    expect(await row('carol.hearth.test').innerText()).toContain('of 250.0 MB');
    await screenshots(vendor, 'hosting-panel');
    const res = await siteGet('carol', '/api/users/carol');
    expect(res.status).toBe(200);
    expect(res.body.address).toBe(`carol@carol.hearth.test:${service.port}`);
  });

  it('a person signs up on the public page, lands on their new site and posts; a taken name is refused', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${panel()}/signup`);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('Site name').fill('carol');
    await page.getByLabel('Username').fill('dora');
    await page.getByLabel('Password').fill(SiteProcess.password('dora'));
    await page.getByRole('button', { name: 'Create my site' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('carol.hearth.test is taken');
    await screenshots(page, 'hosting-signup');

    await page.getByLabel('Site name').fill('dora');
    await page.getByLabel('Password').fill(SiteProcess.password('dora'));
    await page.getByRole('button', { name: 'Create my site' }).click();
    await page.waitForURL(`${siteUrl('dora')}/login?user=dora&welcome=1`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe('Welcome to your new site');
    expect(await page.getByLabel('Username').inputValue()).toBe('dora');
    await page.getByLabel('Password').fill(SiteProcess.password('dora'));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${siteUrl('dora')}/home`);
    await page.getByLabel(/What's on your mind/).fill('Hello from my brand new site');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    await expect.poll(async () => ((await siteGet('dora', '/api/users/dora/posts')).body.items as Array<{ text: string }>).map((p) => p.text)).toContain('Hello from my brand new site');
  });

  it('suspend shows a clear page and keeps the data; a deleted site comes back from its backup', async () => {
    await vendor.goto(`${panel()}/`);
    await row('dora.hearth.test').getByRole('button', { name: 'Suspend' }).click();
    await expect.poll(() => row('dora.hearth.test').getByText('suspended').count()).toBe(1);
    const visitor = await (await browser.newContext()).newPage();
    const answer = await visitor.goto(`${siteUrl('dora')}/@dora`);
    expect(answer?.status()).toBe(503);
    await expect.poll(() => visitor.getByRole('heading', { level: 1 }).innerText()).toBe('This site is paused');
    expect(await seriousViolations(visitor)).toEqual([]);
    await screenshots(visitor, 'hosting-suspended');
    await row('dora.hearth.test').getByRole('button', { name: 'Resume' }).click();
    await expect.poll(async () => (await visitor.goto(`${siteUrl('dora')}/@dora`))?.status()).toBe(200);
    await expect.poll(() => visitor.getByText('Hello from my brand new site').count()).toBeGreaterThan(0);

    await row('dora.hearth.test').getByRole('button', { name: 'Back up now' }).click();
    await expect.poll(() => vendor.getByRole('status').innerText()).toContain('Backed up dora.hearth.test');
    await row('dora.hearth.test').getByRole('button', { name: 'Delete' }).click();
    // A confirmation first: the name typed wrong deletes nothing.
    await vendor.getByLabel(/to confirm/).fill('dora.hearth.tset');
    await vendor.getByRole('button', { name: 'Delete this site' }).click();
    await expect.poll(() => vendor.getByRole('alert').innerText()).toContain('nothing was deleted');
    expect(await seriousViolations(vendor)).toEqual([]);
    await vendor.getByLabel(/to confirm/).fill('dora.hearth.test');
    await vendor.getByRole('button', { name: 'Delete this site' }).click();
    await expect.poll(() => row('dora.hearth.test').getByText('deleted').count()).toBe(1);
    expect((await visitor.goto(`${siteUrl('dora')}/@dora`))?.status()).toBe(410);
    await row('dora.hearth.test').getByRole('button', { name: 'Restore from the latest backup' }).click();
    await expect.poll(() => vendor.getByRole('status').innerText()).toContain('dora.hearth.test is restored');
    await expect.poll(async () => (await visitor.goto(`${siteUrl('dora')}/@dora`))?.status()).toBe(200);
    await expect.poll(() => visitor.getByText('Hello from my brand new site').count()).toBeGreaterThan(0);
    await screenshots(vendor, 'hosting-panel-restored');
  });
});
