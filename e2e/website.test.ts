import type { Browser } from 'playwright-core';
import sharp from 'sharp';
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
    // A pasted profile link opens bob's card (through alice's own site), with Follow right there.
    await page.getByLabel(/Address or profile link/).fill(`${bob.url}/@bob`);
    await page.getByRole('button', { name: 'Find' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Bob Builder' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Follow', exact: true }).click();
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain('You now follow Bob Builder');
    await page.getByRole('link', { name: 'Home', exact: true }).click();
    await expect.poll(() => page.locator('section[aria-label="Feed"]').innerText(), { timeout: 10_000 }).toContain('Hello from my own corner');

    // What the page heard on its live socket, for the failure message below.
    const frames: string[] = [];
    page.on('websocket', (ws) => {
      frames.push(`open ${ws.url()}`);
      ws.on('framereceived', (f) => frames.push(`in ${String(f.payload).slice(0, 80)}`));
      ws.on('close', () => frames.push('close'));
    });
    let reloaded = false;
    page.on('load', () => (reloaded = true));
    await waitFor('a link', async () => (await bob.api('GET', '/api/status', { as: 'bob' })).body.links.length > 0);
    await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'A fresh post, pushed live.' } });
    const live = await expect
      .poll(() => page.locator('section[aria-label="Feed"]').innerText(), { timeout: 15_000 }) // (a generous bound: CI shares the machine)
      .toContain('A fresh post, pushed live.')
      .then(() => undefined, (error: Error) => error);
    if (live) {
      const feed = (await alice.api('GET', '/api/feed', { as: 'alice' })).body.items.map((p: { text: string }) => p.text);
      const outbox = bob.query('select dest_port, status, attempts, last_error, next_attempt_at, claimed_until from outbox');
      const links = (await bob.api('GET', '/api/status', { as: 'bob' })).body.links;
      throw new Error(`${live.message}\nalice's feed by API: ${JSON.stringify(feed)}\nlive socket since the follow: ${JSON.stringify(frames)}\nbob's outbox: ${JSON.stringify(outbox)}\nbob's links: ${JSON.stringify(links)}`);
    }
    expect(reloaded).toBe(false);
    await screenshots(page, 'home-feed');
    await page.close();
  });

  const login = async (site: SiteProcess, user: string) => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/login`);
    await page.getByLabel('Username').fill(user);
    await page.getByLabel('Password').fill(SiteProcess.password(user));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${site.url}/home`);
    return page;
  };

  it('alice comments from her feed, bob sees the live notification and deletes the comment, then blocks her', async () => {
    const bobPage = await login(bob, 'bob');
    // bob has seen what came before (alice's follow): the badge below counts only the comment.
    await bobPage.getByRole('link', { name: /^Notifications/ }).click();
    await expect.poll(() => bobPage.getByRole('link', { name: 'Notifications', exact: true }).count()).toBe(1);
    await bobPage.getByRole('link', { name: 'Home', exact: true }).click();
    const alicePage = await login(alice, 'alice');
    const card = alicePage.locator('article.post', { hasText: 'Hello from my own corner' });
    await expect.poll(() => card.count(), { timeout: 10_000 }).toBe(1);
    await card.getByRole('link', { name: /^Comments: / }).click();
    await alicePage.getByLabel('Your comment').fill('Lovely site, **Bob**!');
    await alicePage.getByRole('button', { name: 'Comment', exact: true }).click();
    await expect.poll(() => alicePage.getByRole('status').first().innerText()).toContain("Sent to Bob Builder's site.");

    // bob's open home page hears of it live, without a reload: the badge in the nav.
    await expect.poll(() => bobPage.getByRole('link', { name: /^Notifications \(1 unread\)/ }).count(), { timeout: 10_000 }).toBe(1);
    await bobPage.getByRole('link', { name: /^Notifications/ }).click();
    const notifications = bobPage.locator('ul.notifications');
    await expect.poll(() => notifications.innerText(), { timeout: 10_000 }).toMatch(/alice commented on Hello from my own corner.*Lovely site, Bob!/i);
    await screenshots(bobPage, 'notifications');
    // Seen, so read: the badge goes.
    await expect.poll(() => bobPage.getByRole('link', { name: 'Notifications', exact: true }).count()).toBe(1);

    await bobPage.goto(`${bob.url}/@bob/${postId}`);
    const comments = bobPage.locator('section[aria-label="Comments"]');
    await expect.poll(() => comments.innerText()).toContain('Lovely site, Bob!');
    expect(await comments.locator('strong', { hasText: 'Bob' }).count()).toBe(1); // Markdown rendered
    await screenshots(bobPage, 'post-with-comment');
    bobPage.once('dialog', (dialog) => void dialog.accept()); // deleting asks first
    await comments.getByRole('button', { name: `Delete comment by ${alice.address('alice')}` }).click();
    await expect.poll(() => comments.innerText()).not.toContain('Lovely site');
    expect((await bob.api('GET', `/api/users/bob/posts/${postId}`)).body.comments).toEqual([]);

    // Block from the same place: comment again to have someone to block.
    await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: postId }, text: 'one more' } });
    await expect.poll(async () => { await bobPage.reload(); return comments.innerText(); }, { timeout: 10_000 }).toContain('one more');
    bobPage.once('dialog', (dialog) => void dialog.accept());
    await comments.getByRole('button', { name: `Block ${alice.address('alice')}` }).click();
    await expect.poll(async () => (await bob.api('GET', '/api/blocks', { as: 'bob' })).body.items.length).toBe(1);
    await bobPage.goto(`${bob.url}/settings`);
    const blocked = bobPage.locator('section[aria-label="Blocked"]');
    await expect.poll(() => blocked.innerText()).toContain(alice.address('alice'));
    await screenshots(bobPage, 'settings');
    await blocked.getByRole('button', { name: `Unblock ${alice.address('alice')}` }).click();
    await expect.poll(() => blocked.innerText()).toContain('You block no one.');
    // Unblocking says plainly what it does not do.
    await expect.poll(() => blocked.innerText()).toContain('Follows are not restored');
    await screenshots(bobPage, 'settings-unblocked');
    await Promise.all([bobPage.close(), alicePage.close()]);
  });

  it('bob posts an image from his home; a renamed non-image is refused with a clear message', async () => {
    const page = await login(bob, 'bob');
    await page.getByLabel(/^Add images/).setInputFiles({ name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is a text file, not a photo') });
    await expect.poll(() => page.getByRole('alert').first().innerText()).toMatch(/holiday\.jpg: this file is not an image Hearth accepts \(JPEG, PNG, GIF or WebP\)/);
    await screenshots(page, 'upload-refused');
    const png = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#e63' } }).png().toBuffer();
    await page.getByLabel(/^Add images/).setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: png });
    await page.getByLabel('Describe image 1 for people who cannot see it').fill('An orange sunset');
    await page.getByLabel(/What's on your mind/).fill('Sunset from my window');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain('Posted.');
    await page.goto(`${bob.url}/@bob`);
    const image = page.locator('article.post', { hasText: 'Sunset from my window' }).locator('img.attachment');
    await expect.poll(() => image.getAttribute('alt')).toBe('An orange sunset');
    await expect.poll(() => image.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(120);
    // The image viewer: full size, with its description written out; Escape closes it.
    await image.click();
    const viewer = page.getByRole('dialog', { name: 'Image' });
    await expect.poll(() => viewer.innerText()).toContain('An orange sunset');
    await screenshots(page, 'image-viewer');
    await page.keyboard.press('Escape');
    await expect.poll(() => viewer.count()).toBe(0);
    await page.close();
  });

  it('settings: a new avatar picture, and this browser among the devices', async () => {
    const page = await login(bob, 'bob');
    await page.goto(`${bob.url}/settings`);
    const avatar = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#36c' } }).jpeg().toBuffer();
    await page.getByLabel('Avatar picture').setInputFiles({ name: 'me.jpg', mimeType: 'image/jpeg', buffer: avatar });
    await expect.poll(() => page.getByRole('status').first().innerText()).toContain('Picture uploaded');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await expect.poll(async () => (await bob.api('GET', '/api/users/bob')).body.avatarUrl).toMatch(new RegExp(`^${bob.url}/media/`));
    await expect.poll(() => page.locator('section[aria-label="Devices"]').innerText()).toContain('(this browser)');
    await screenshots(page, 'settings-devices');
    const profile = await (await fetch(`${bob.url}/@bob`)).text();
    expect(profile).toMatch(/<img class="avatar" src="http:\/\/127\.0\.0\.1:\d+\/media\/[A-Za-z0-9_-]+\.jpg"/);
    await page.close();
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
      const article = page.locator('article.post', { hasText: 'Look <img' });
      await expect.poll(() => article.innerText()).toContain('Look <img src=x onerror=alert(1)>');
      expect(await article.locator('.post-text img, .markdown img').count()).toBe(0);
      expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
      expect(await article.locator('script').count()).toBe(0);
      expect(dialogs).toEqual([]);
      await page.close();
    }
  });
});
