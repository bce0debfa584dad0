import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess, waitFor } from '../tests/helpers/sites.js';
import { seriousViolations } from './axe.js';
import { launchBrowser, loginPage, screenshots } from './browser.js';

/**
 * The social web as a newcomer uses it (issue 10), on three real sites in real Chromium: every
 * name is a link, another site's person and post open through my own site, likes count on both
 * sites, edits and deletes reach followers, block ends the follow on both sites, notifications
 * have a badge and are marked read. Every main page passes axe-core without serious violations.
 */
describe('the social web in a browser', () => {
  let browser: Browser;
  let alice: SiteProcess;
  let bob: SiteProcess;
  let carol: SiteProcess;
  let alicePage: Page;
  let bobPost: string;

  beforeAll(async () => {
    [browser, alice, bob, carol] = await Promise.all([launchBrowser(), SiteProcess.create(['alice']), SiteProcess.create(['bob']), SiteProcess.create(['carol'])]);
    await Promise.all([
      alice.api('PATCH', '/api/me/profile', { as: 'alice', body: { displayName: 'Alice Archer' } }),
      bob.api('PATCH', '/api/me/profile', { as: 'bob', body: { displayName: 'Bob Baker', bio: 'Bread, **mostly**.' } }),
      carol.api('PATCH', '/api/me/profile', { as: 'carol', body: { displayName: 'Carol Cook' } }),
    ]);
    bobPost = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'Tea at four, everyone welcome' } })).body.id;
    // carol follows bob: she is the follower who sees bob's edits and deletes.
    await carol.api('POST', '/api/following', { as: 'carol', body: { address: bob.address('bob') } });
    // bob follows alice, so alice's posts reach a feed with a name on them.
    await bob.api('POST', '/api/following', { as: 'bob', body: { address: alice.address('alice') } });
    await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'Hello from Alice' } });
    await waitFor('carol to have bob\'s post', async () => (await carol.api('GET', '/api/feed', { as: 'carol' })).body.items.some((p: { id: string }) => p.id === bobPost));
    alicePage = await loginPage(browser, alice, 'alice');
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([alice?.destroy(), bob?.destroy(), carol?.destroy()]);
  });

  const expectAccessible = async (page: Page, what: string) => expect(await seriousViolations(page), what).toEqual([]);

  it('from a name in the feed to bob\'s profile, follow from there, and his post shows with his name', async () => {
    // alice finds bob by address, from her home.
    await alicePage.getByLabel(/Address or profile link/).fill(bob.address('bob'));
    await alicePage.getByRole('button', { name: 'Find' }).click();
    await alicePage.waitForURL(/\/people\//);
    const header = alicePage.locator('header.profile');
    await expect.poll(() => header.innerText()).toContain('Bob Baker');
    expect(await header.locator('.bio strong').innerText()).toBe('mostly'); // the bio is Markdown, rendered
    await expectAccessible(alicePage, 'a remote profile');
    await screenshots(alicePage, 'person-remote');
    await alicePage.getByRole('button', { name: 'Follow', exact: true }).click();
    await expect.poll(() => alicePage.getByRole('button', { name: 'Unfollow' }).count()).toBe(1);
    expect((await alice.api('GET', '/api/following', { as: 'alice' })).body.items.map((f: { address: string }) => f.address)).toContain(bob.address('bob'));

    await alicePage.getByRole('link', { name: 'Home', exact: true }).click();
    const card = alicePage.locator('article.post', { hasText: 'Tea at four' });
    await expect.poll(() => card.count(), { timeout: 10_000 }).toBe(1);
    // The author is a person (name, linked), not a raw address; alice's own post is on her Home too.
    const author = card.getByRole('link', { name: `Bob Baker ${bob.address('bob')}` });
    expect(await author.count()).toBe(1);
    await expect.poll(() => alicePage.locator('article.post', { hasText: 'Hello from Alice' }).count()).toBe(1);
    await expectAccessible(alicePage, 'home');
    await screenshots(alicePage, 'home');
    await author.click();
    await alicePage.waitForURL(`${alice.url}/people/${encodeURIComponent(bob.address('bob'))}`);
    await expect.poll(() => alicePage.getByRole('button', { name: 'Unfollow' }).count()).toBe(1);
  });

  it('likes count on both sites, and unlike takes it back', async () => {
    await alicePage.goto(`${alice.url}/home`);
    const card = alicePage.locator('article.post', { hasText: 'Tea at four' });
    const like = card.getByRole('button', { name: /^Like, 0 likes/ });
    await like.click();
    await expect.poll(() => card.getByRole('button', { name: /^Unlike, 1 like$/ }).getAttribute('aria-pressed')).toBe('true');
    await waitFor('the like on bob\'s site', async () => (await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.likeCount === 1);
    // After a reload my site still knows I like it.
    await alicePage.reload();
    await card.getByRole('button', { name: /^Unlike, 1 like$/ }).click();
    await expect.poll(() => card.getByRole('button', { name: /^Like, 0 likes/ }).count()).toBe(1);
    await waitFor('the unlike on bob\'s site', async () => (await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.likeCount === 0);
  });

  it('the post\'s time opens the thread through my own site; a comment reaches bob and his badge', async () => {
    const bobPage = await loginPage(browser, bob, 'bob');
    await alicePage.goto(`${alice.url}/home`);
    const card = alicePage.locator('article.post', { hasText: 'Tea at four' });
    await card.locator('.post-time a').click();
    await alicePage.waitForURL(`${alice.url}/people/${encodeURIComponent(bob.address('bob'))}/${bobPost}`);
    await alicePage.getByLabel('Your comment').fill('Count me in');
    await alicePage.getByRole('button', { name: 'Comment', exact: true }).click();
    await expect.poll(() => alicePage.locator('section[aria-label="Comments"]').innerText(), { timeout: 10_000 }).toContain('Count me in');
    await expectAccessible(alicePage, 'a thread');
    await screenshots(alicePage, 'thread');

    const badge = bobPage.getByRole('link', { name: /^Notifications \(\d+ unread\)/ });
    await expect.poll(() => badge.count(), { timeout: 10_000 }).toBe(1);
    await badge.click();
    const list = bobPage.locator('ul.notifications');
    await expect.poll(() => list.innerText()).toMatch(/Alice Archer commented on Tea at four, everyone welcome: “Count me in”/);
    await expectAccessible(bobPage, 'notifications');
    await screenshots(bobPage, 'notifications-page');
    await expect.poll(() => bobPage.getByRole('link', { name: 'Notifications', exact: true }).count()).toBe(1); // read: no badge
    expect((await bob.api('GET', '/api/notifications', { as: 'bob' })).body.unread).toBe(0);
    // The notification links to the post.
    await list.getByRole('link', { name: /Tea at four/ }).first().click();
    await bobPage.waitForURL(`${bob.url}/@bob/${bobPost}`);
    await bobPage.close();
  });

  it('bob edits and deletes his post from his home; carol\'s site follows both', async () => {
    const bobPage = await loginPage(browser, bob, 'bob');
    const card = bobPage.locator('article.post', { hasText: 'Tea at four' });
    await expect.poll(() => card.count()).toBe(1);
    await card.getByRole('button', { name: 'Edit' }).click();
    const form = bobPage.getByRole('form', { name: 'Edit post' });
    await form.getByLabel('Edit your post').fill('Tea at five, everyone welcome');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => bobPage.locator('article.post', { hasText: 'Tea at five' }).innerText()).toContain('edited');
    await waitFor('the edit on carol\'s site', async () => (await carol.api('GET', '/api/feed', { as: 'carol' })).body.items.some((p: { text: string; editedAt?: string }) => p.text === 'Tea at five, everyone welcome' && p.editedAt));
    // carol sees it edited in her browser.
    const carolPage = await loginPage(browser, carol, 'carol');
    await expect.poll(() => carolPage.locator('article.post', { hasText: 'Tea at five' }).innerText(), { timeout: 10_000 }).toContain('edited');

    const doomed = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'A post to regret' } })).body.id;
    await waitFor('carol to have it', async () => (await carol.api('GET', '/api/feed', { as: 'carol' })).body.items.some((p: { id: string }) => p.id === doomed));
    await bobPage.reload();
    const regret = bobPage.locator('article.post', { hasText: 'A post to regret' });
    bobPage.once('dialog', (dialog) => void dialog.accept());
    await regret.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => regret.count()).toBe(0);
    // carol's open feed drops it live.
    await expect.poll(() => carolPage.locator('article.post', { hasText: 'A post to regret' }).count(), { timeout: 10_000 }).toBe(0);
    await Promise.all([bobPage.close(), carolPage.close()]);
  });

  it('a character counter warns before the limit, refuses past it, and a draft survives a reload', async () => {
    await alicePage.goto(`${alice.url}/home`);
    const compose = alicePage.getByLabel(/What's on your mind/);
    await compose.fill('x'.repeat(4900));
    await expect.poll(() => alicePage.locator('#compose-count').innerText()).toBe('100 characters left');
    await compose.fill('x'.repeat(5003));
    await expect.poll(() => alicePage.locator('#compose-count').innerText()).toBe('3 characters too many: shorten it to post.');
    expect(await alicePage.getByRole('button', { name: 'Post', exact: true }).isDisabled()).toBe(true);
    await compose.fill('A draft I am not done with');
    await alicePage.reload();
    await expect.poll(() => alicePage.getByLabel(/What's on your mind/).inputValue()).toBe('A draft I am not done with');
    await alicePage.getByLabel(/What's on your mind/).fill('');
  });

  it('a mention of carol links to her and reaches her notifications; a mention of nobody is refused', async () => {
    await alicePage.goto(`${alice.url}/home`);
    const compose = alicePage.getByLabel(/What's on your mind/);
    await compose.fill(`Tea with @carol@${carol.host} and @nobody@${carol.host}`);
    await alicePage.getByRole('button', { name: 'Post', exact: true }).click();
    await expect.poll(() => alicePage.getByRole('alert').first().innerText()).toContain(`Nobody lives at nobody@${carol.host}`);
    await compose.fill(`Tea with @carol@${carol.host} at four #teatime`);
    await alicePage.getByRole('button', { name: 'Post', exact: true }).click();
    const card = alicePage.locator('article.post', { hasText: 'Tea with' });
    await expect.poll(() => card.count()).toBe(1);
    // The mention is a link to carol, through alice's own site.
    await card.getByRole('link', { name: `@carol@${carol.host}` }).click();
    await alicePage.waitForURL(`${alice.url}/people/${encodeURIComponent(carol.address('carol'))}`);
    await expect.poll(() => alicePage.getByRole('heading', { name: 'Carol Cook' }).count()).toBe(1);

    const carolPage = await loginPage(browser, carol, 'carol');
    await carolPage.getByRole('link', { name: /^Notifications/ }).click();
    await expect.poll(() => carolPage.locator('ul.notifications').innerText(), { timeout: 10_000 }).toContain('Alice Archer mentioned you in a post: “Tea with @carol@');
    await carolPage.close();
  });

  it('a #tag opens the search, which finds posts and people', async () => {
    await alicePage.goto(`${alice.url}/home`);
    await alicePage.locator('article.post', { hasText: 'Tea with' }).getByRole('link', { name: '#teatime' }).click();
    await alicePage.waitForURL(`${alice.url}/search?q=%23teatime`);
    const posts = alicePage.getByRole('region', { name: 'Posts' });
    await expect.poll(() => posts.locator('article.post').count()).toBe(1);
    await alicePage.getByLabel('Search for people or words').fill('Bob');
    await alicePage.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => alicePage.getByRole('region', { name: 'People' }).innerText()).toContain('Bob Baker');
    await expectAccessible(alicePage, 'search');
    await screenshots(alicePage, 'search');
  });

  it('reply to a comment nests under it on both sites', async () => {
    await alicePage.goto(`${alice.url}/people/${encodeURIComponent(bob.address('bob'))}/${bobPost}`);
    const comments = alicePage.locator('section[aria-label="Comments"]');
    await expect.poll(() => comments.innerText()).toContain('Count me in');
    await comments.getByRole('button', { name: 'Reply' }).first().click();
    await alicePage.getByLabel(/^Your reply to/).fill('And I will bring scones');
    await alicePage.getByRole('button', { name: 'Comment', exact: true }).click();
    await expect.poll(() => comments.locator('ul.replies').innerText(), { timeout: 10_000 }).toContain('And I will bring scones');
    const page = await browser.newPage();
    await page.goto(`${bob.url}/@bob/${bobPost}`);
    await expect.poll(() => page.locator('ul.replies').innerText()).toContain('And I will bring scones');
    await screenshots(page, 'thread-replies');
    await page.close();
  });

  it('share a post with my followers and undo it; content warnings hide text until opened', async () => {
    await alicePage.goto(`${alice.url}/home`);
    const card = alicePage.locator('article.post', { hasText: 'Tea at five' }).first();
    await card.getByRole('button', { name: 'Share' }).click();
    await expect.poll(() => alicePage.locator('article.post', { hasText: 'Shared by' }).count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await waitFor('bob\'s repost notification', async () => ((await bob.api('GET', '/api/notifications', { as: 'bob' })).body.items as Array<{ kind: string }>).some((n) => n.kind === 'repost'));
    await alicePage.locator('article.post', { hasText: 'Shared by' }).first().getByRole('button', { name: 'Shared' }).click();
    await expect.poll(async () => (await alice.api('GET', '/api/feed', { as: 'alice' })).body.items.some((p: { repostedBy?: unknown }) => p.repostedBy)).toBe(false);

    await alicePage.getByRole('button', { name: 'Add a content warning' }).click();
    await alicePage.getByLabel(/^Content warning:/).fill('the ending of the film');
    await alicePage.getByLabel(/What's on your mind/).fill('The butler did it.');
    await alicePage.getByRole('button', { name: 'Post', exact: true }).click();
    const warned = alicePage.locator('article.post', { hasText: 'the ending of the film' });
    await expect.poll(() => warned.count()).toBe(1);
    expect(await warned.getByText('The butler did it.').isVisible()).toBe(false);
    await warned.getByText('Content warning:').click();
    expect(await warned.getByText('The butler did it.').isVisible()).toBe(true);
    await screenshots(alicePage, 'home-content-warning');
  });

  it('mute hides bob from the feed without telling him; the app installs (manifest and icon)', async () => {
    await alicePage.goto(`${alice.url}/people/${encodeURIComponent(bob.address('bob'))}`);
    await alicePage.getByRole('button', { name: 'Mute' }).click();
    await expect.poll(() => alicePage.getByRole('status').first().innerText()).toContain('They are not told');
    await alicePage.getByRole('link', { name: 'Home', exact: true }).click();
    await expect.poll(() => alicePage.locator('section[aria-label="Feed"]').innerText()).toContain('Hello from Alice');
    expect(await alicePage.locator('article.post', { hasText: 'Bob Baker' }).count()).toBe(0);
    await alicePage.goto(`${alice.url}/people/${encodeURIComponent(bob.address('bob'))}`);
    await alicePage.getByRole('button', { name: 'Unmute' }).click();
    await expect.poll(async () => (await alice.api('GET', '/api/mutes', { as: 'alice' })).body.items.length).toBe(0);

    const manifestHref = await alicePage.locator('link[rel="manifest"]').getAttribute('href');
    const manifest = await (await fetch(new URL(manifestHref!, alice.url))).json();
    expect(manifest).toMatchObject({ name: 'Alice Archer · Hearth', start_url: '/home', display: 'standalone' });
    const icon = await fetch(new URL(manifest.icons[0].src, alice.url));
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await alicePage.locator('link[rel="icon"]').getAttribute('href')).toBe('/icon.svg');
  });

  it('block is silent, and both sites agree afterwards: neither follows the other', async () => {
    // alice follows bob (above) and bob follows alice (setup). bob blocks alice from her page.
    const bobPage = await loginPage(browser, bob, 'bob');
    await bobPage.goto(`${bob.url}/people/${encodeURIComponent(alice.address('alice'))}`);
    await expect.poll(() => bobPage.locator('header.profile').innerText()).toContain('Follows you');
    bobPage.once('dialog', (dialog) => void dialog.accept());
    await bobPage.getByRole('button', { name: 'Block' }).click();
    await expect.poll(() => bobPage.getByRole('button', { name: 'Unblock' }).count()).toBe(1);
    await waitFor('alice\'s site to stop following bob', async () => (await alice.api('GET', '/api/following', { as: 'alice' })).body.items.length === 0);
    expect((await bob.api('GET', '/api/following', { as: 'bob' })).body.items.map((f: { address: string }) => f.address)).not.toContain(alice.address('alice'));
    expect((await bob.api('GET', '/api/followers', { as: 'bob' })).body.items.map((f: { address: string }) => f.address)).not.toContain(alice.address('alice'));
    await waitFor('bob gone from alice\'s followers', async () => (await alice.api('GET', '/api/followers', { as: 'alice' })).body.items.length === 0);
    // alice sees nothing unusual: her like is accepted as usual, and no notification says "blocked".
    const like = await alice.api('POST', '/api/likes', { as: 'alice', body: { post: { author: bob.address('bob'), id: bobPost } } });
    expect(like.status).toBe(202);
    await waitFor('the outbox to settle', async () => (await alice.api('GET', '/api/status', { as: 'alice' })).body.outbox.pending === 0);
    const notes = (await alice.api('GET', '/api/notifications', { as: 'alice' })).body.items as Array<{ kind: string }>;
    expect(notes.filter((n) => n.kind === 'delivery_failed')).toEqual([]);
    expect((await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.likeCount).toBe(0);
    await bobPage.close();
  });

  it('logged out, /home goes to the login page; every main page has a title and passes axe', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${alice.url}/home`);
    await page.waitForURL(`${alice.url}/login`);
    await expectAccessible(page, 'login');
    await page.goto(`${bob.url}/@bob`);
    await expect.poll(() => page.locator('article.post').count()).toBeGreaterThan(0);
    await expectAccessible(page, 'a public profile');
    await page.goto(`${bob.url}/@bob/${bobPost}`);
    await expect.poll(() => page.locator('article.post').count()).toBe(1);
    await expectAccessible(page, 'a public post');
    await context.close();
    await alicePage.goto(`${alice.url}/settings`);
    await expect.poll(() => alicePage.getByRole('heading', { name: 'Settings' }).count()).toBe(1);
    await expect.poll(() => alicePage.locator('section[aria-label="Devices"] li').count()).toBeGreaterThan(0);
    await expectAccessible(alicePage, 'settings');
    await alicePage.goto(`${alice.url}/messages`);
    await expect.poll(() => alicePage.getByRole('heading', { name: 'Messages' }).count()).toBe(1);
    await expectAccessible(alicePage, 'messages');
  });

  it('every action on a post is reachable with the keyboard alone', async () => {
    await alicePage.goto(`${alice.url}/home`);
    const card = alicePage.locator('article.post', { hasText: 'Hello from Alice' });
    await expect.poll(() => card.count()).toBe(1);
    const reached = new Set<string>();
    await card.getByRole('link').first().focus();
    for (let i = 0; i < 12; i++) {
      const label = await alicePage.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        // The accessible name as a screen reader says it: visible text without the hidden icons.
        if (!el?.closest('article.post')?.textContent?.includes('Hello from Alice')) return '';
        const clone = el.cloneNode(true) as HTMLElement;
        clone.querySelectorAll('[aria-hidden="true"]').forEach((n) => n.remove());
        return (clone.textContent ?? '').replace(/\s+/g, ' ').trim();
      });
      if (label) reached.add(label);
      await alicePage.keyboard.press('Tab');
    }
    expect([...reached]).toEqual(expect.arrayContaining([expect.stringMatching(/^Alice Archer/), expect.stringMatching(/^Like, 0 likes/), expect.stringMatching(/^Comments: 0/), 'Share', 'Edit', 'Delete']));

    // The nav, from the top of the page, and a person's actions: Tab reaches each one.
    const tabTo = async (names: string[], limit: number) => {
      const seen = new Set<string>();
      // (Notifications may carry its unread count after the word.)
      const reached = (n: string) => [...seen].some((t) => t === n || t.startsWith(`${n}`) && /^\d/.test(t.slice(n.length, n.length + 1)));
      for (let i = 0; i < limit && !names.every(reached); i++) {
        await alicePage.keyboard.press('Tab');
        seen.add(await alicePage.evaluate(() => (document.activeElement?.textContent ?? '').replace(/\s+/g, ' ').trim()));
      }
      return names.filter((n) => !reached(n));
    };
    await alicePage.goto(`${alice.url}/people/${encodeURIComponent(carol.address('carol'))}`);
    await expect.poll(() => alicePage.getByRole('heading', { name: 'Carol Cook' }).count()).toBe(1);
    await alicePage.locator('body').focus();
    expect(await tabTo(['Skip to content', 'Home', 'Notifications', 'Messages', 'Search', 'My site', 'Settings', 'Log out', 'Follow', 'Message', 'Call', 'Mute', 'Block'], 40)).toEqual([]);
  });

  it('when my site stops answering, the page says so, and the notice goes when it is back', async () => {
    await alicePage.goto(`${alice.url}/home`);
    await expect.poll(() => alicePage.getByRole('heading', { name: 'Home' }).count()).toBe(1);
    const notice = alicePage.getByText('Your site is not answering');
    expect(await notice.count()).toBe(0);
    await alice.stop();
    await expect.poll(() => notice.count(), { timeout: 20_000 }).toBe(1);
    await screenshots(alicePage, 'offline-notice');
    await alice.start();
    // It reconnects by itself (with backoff), and catches up.
    await expect.poll(() => notice.count(), { timeout: 45_000 }).toBe(0);
  });

  it('logging out takes this browser off my devices: new messages are no longer encrypted to it', async () => {
    const devices = async () => (await alice.api('GET', '/api/devices', { as: 'alice' })).body.items as Array<{ id: string; lastUsedAt: string | null }>;
    const before = await devices();
    // The open app said it was in use.
    expect(before.some((d) => d.lastUsedAt !== null)).toBe(true);
    await alicePage.goto(`${alice.url}/home`);
    await alicePage.getByRole('button', { name: 'Log out' }).click();
    await alicePage.waitForURL(`${alice.url}/`);
    await expect.poll(async () => (await devices()).length).toBe(before.length - 1);
    expect(await alicePage.evaluate(() => localStorage.getItem('hearth.token'))).toBeNull();
  });
});
