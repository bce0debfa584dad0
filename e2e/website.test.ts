import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess, waitFor } from '../tests/helpers/sites.js';
import { launchBrowser, screenshots } from './browser.js';

/** The website in real headless Chromium, on two real sites. */
describe('the website in a browser', () => {
  let browser: Browser;
  let alice: SiteProcess;
  let bob: SiteProcess;
  let postId: string;

  beforeAll(async () => {
    [browser, alice, bob] = await Promise.all([launchBrowser(), SiteProcess.create(['alice']), SiteProcess.create(['bob'])]);
    await bob.api('PATCH', '/api/me/profile', { as: 'bob', body: { displayName: 'Bob Builder', bio: 'I build things, and a website of my own.' } });
    postId = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'Hello from my own corner of the web!\n\nThis site is mine.' } })).body.id;
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  it('a visitor reads a public post without logging in, with and without JavaScript', async () => {
    for (const javaScriptEnabled of [true, false]) {
      const context = await browser.newContext({ javaScriptEnabled });
      const page = await context.newPage();
      const response = await page.goto(`${bob.url}/@bob/${postId}`);
      expect(response?.status()).toBe(200);
      await expect.poll(() => page.locator('article.post').first().innerText()).toContain('Hello from my own corner of the web!');
      expect(await page.title()).toContain('Bob Builder');
      if (javaScriptEnabled) await screenshots(page, 'public-post');
      await context.close();
    }
    const page = await browser.newPage();
    await page.goto(`${bob.url}/@bob`);
    await expect.poll(() => page.getByRole('heading', { name: 'Bob Builder' }).count()).toBe(1);
    await screenshots(page, 'public-profile');
    await page.close();
  });

  it('alice logs in, follows bob by address, and bob\'s new post appears in her open feed without reload', async () => {
    const page = await browser.newPage();
    await page.goto(`${alice.url}/login`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(SiteProcess.password('alice'));
    await screenshots(page, 'login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${alice.url}/home`);
    await page.getByLabel('Address or profile link').fill(`${bob.url}/@bob`); // a pasted profile link
    await page.getByRole('button', { name: 'Follow' }).click();
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain(`You now follow ${bob.address('bob')}`);
    await expect.poll(() => page.locator('section[aria-label="Feed"]').innerText(), { timeout: 10_000 }).toContain('Hello from my own corner');

    let reloaded = false;
    page.on('load', () => (reloaded = true));
    await waitFor('a link', async () => (await bob.api('GET', '/api/status', { as: 'bob' })).body.links.length > 0);
    await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'A fresh post, pushed live.' } });
    await expect.poll(() => page.locator('section[aria-label="Feed"]').innerText(), { timeout: 5_000 }).toContain('A fresh post, pushed live.');
    expect(reloaded).toBe(false);
    await screenshots(page, 'home-feed');
    await page.close();
  });

  it('alice comments on bob\'s post from his site\'s page', async () => {
    const page = await browser.newPage();
    // alice is logged in on her own site; she comments through it on bob's post shown there.
    await page.goto(`${alice.url}/login`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(SiteProcess.password('alice'));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${alice.url}/home`);
    await page.close();
    const res = await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: postId }, text: 'Lovely site, Bob!' } });
    expect(res.status).toBe(202);
    const view = await browser.newPage();
    await view.goto(`${bob.url}/@bob/${postId}`);
    await expect.poll(async () => {
      await view.reload();
      return view.locator('section[aria-label="Comments"]').innerText();
    }, { timeout: 10_000 }).toContain('Lovely site, Bob!');
    await view.close();
  });

  it('markup in a post renders as harmless text: no script runs, no javascript: link', async () => {
    const hostile = 'Look <img src=x onerror=alert(1)> and [x](javascript:alert(1)) <script>alert(2)</script>';
    const id = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: hostile } })).body.id;
    for (const path of [`/@bob/${id}`, '/@bob']) {
      const page = await browser.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      await page.goto(`${bob.url}${path}`);
      await expect.poll(() => page.locator('article.post').first().innerText()).toContain('Look <img src=x onerror=alert(1)>');
      expect(await page.locator('article.post img').count()).toBe(0);
      expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
      expect(await page.locator('article.post script').count()).toBe(0);
      expect(dialogs).toEqual([]);
      await page.close();
    }
  });
});
