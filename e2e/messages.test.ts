import crypto from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess } from '../tests/helpers/sites.js';
import { launchBrowser, screenshots } from './browser.js';
import { DmSender } from '../tests/helpers/vault.js';

/** Direct messages between two browsers on two sites, encrypted and decrypted in the browsers. */
describe('direct messages in the browser', () => {
  let browser: Browser;
  let alice: SiteProcess;
  let bob: SiteProcess;

  beforeAll(async () => {
    [browser, alice, bob] = await Promise.all([launchBrowser(), SiteProcess.create(['alice']), SiteProcess.create(['bob'])]);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  const loginAndOpenMessages = async (site: SiteProcess, user: string): Promise<Page> => {
    const context = await browser.newContext(); // its own IndexedDB: its own device keys
    const page = await context.newPage();
    await page.goto(`${site.url}/login`);
    await page.getByLabel('Username').fill(user);
    await page.getByLabel('Password').fill(SiteProcess.password(user));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${site.url}/home`);
    await page.getByRole('link', { name: 'Messages' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Messages' }).count()).toBe(1);
    return page;
  };

  it('alice and bob exchange messages; both see the same safety number; neither backend holds the text', async () => {
    const alicePage = await loginAndOpenMessages(alice, 'alice');
    const bobPage = await loginAndOpenMessages(bob, 'bob');
    const hello = `Meet at the old mill at six ${crypto.randomUUID()}`;
    const reply = `See you there, bring a torch ${crypto.randomUUID()}`;

    await alicePage.getByPlaceholder('Message someone: name@example.com').fill(bob.address('bob'));
    await alicePage.getByRole('button', { name: 'Open' }).click();
    await alicePage.getByLabel(`Message to ${bob.address('bob')}`).fill(hello);
    await alicePage.getByRole('button', { name: 'Send' }).click();
    const aliceThread = alicePage.locator('ol.thread');
    await expect.poll(() => aliceThread.innerText()).toContain(hello);

    // bob's open page hears of it live and decrypts it in his browser.
    const conversation = bobPage.getByRole('button', { name: alice.address('alice') });
    await expect.poll(() => conversation.count(), { timeout: 15_000 }).toBe(1);
    await conversation.click();
    const bobThread = bobPage.locator('ol.thread');
    await expect.poll(() => bobThread.innerText()).toContain(hello);
    await bobPage.getByLabel(`Message to ${alice.address('alice')}`).fill(reply);
    await bobPage.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => aliceThread.innerText(), { timeout: 15_000 }).toContain(reply);

    const aliceSafety = await alicePage.locator('.safety').innerText();
    await expect.poll(() => bobPage.locator('.safety').innerText()).toBe(aliceSafety);
    expect(aliceSafety).toMatch(/^(\d{5} ){11}\d{5}$/);
    await screenshots(bobPage, 'messages');

    for (const site of [alice, bob]) {
      const bytes = site.databaseBytes();
      expect(bytes.includes(Buffer.from(hello))).toBe(false);
      expect(bytes.includes(Buffer.from(reply))).toBe(false);
      expect(bytes.includes(Buffer.from('old mill'))).toBe(false);
    }
    await Promise.all([alicePage.context().close(), bobPage.context().close()]);
  });

  it('a new message in an open conversation brings only itself; one that came while the page was closed shows once when it opens', async () => {
    const alicePage = await loginAndOpenMessages(alice, 'alice');
    const bobPage = await loginAndOpenMessages(bob, 'bob');
    const send = async (text: string) => {
      await alicePage.getByLabel(`Message to ${bob.address('bob')}`).fill(text);
      await alicePage.getByRole('button', { name: 'Send' }).click();
      await expect.poll(() => alicePage.locator('ol.thread').innerText()).toContain(text);
    };
    await alicePage.getByPlaceholder('Message someone: name@example.com').fill(bob.address('bob'));
    await alicePage.getByRole('button', { name: 'Open' }).click();
    const first = `first ${crypto.randomUUID()}`;
    await send(first);
    const conversation = bobPage.getByRole('button', { name: alice.address('alice') });
    await expect.poll(() => conversation.count(), { timeout: 15_000 }).toBe(1);
    await conversation.click();
    const bobThread = bobPage.locator('ol.thread');
    await expect.poll(() => bobThread.innerText()).toContain(first);

    // While the conversation is open: the live event names the new message's place, and the page
    // asks only for what comes after what it has; neither the whole history nor the vault again.
    const asked: string[] = [];
    const record = (request: { url(): string }) => void (/\/api\/(dms|vault)/.test(request.url()) && asked.push(new URL(request.url()).pathname + new URL(request.url()).search));
    bobPage.on('request', record);
    const second = `second ${crypto.randomUUID()}`;
    await send(second);
    await expect.poll(() => bobThread.innerText(), { timeout: 15_000 }).toContain(second);
    bobPage.off('request', record);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((url) => /^\/api\/dms\?after=[1-9]\d*&/.test(url))).toBe(true);

    // bob closes the page; a message comes meanwhile; a new page of his (same browser, same keys) shows it once.
    const context = bobPage.context();
    await bobPage.close();
    const third = `third ${crypto.randomUUID()}`;
    await send(third);
    const again = await context.newPage();
    await again.goto(`${bob.url}/messages?with=${encodeURIComponent(alice.address('alice'))}`);
    const thread = again.locator('ol.thread');
    await expect.poll(() => thread.innerText(), { timeout: 15_000 }).toContain(third);
    const texts = await thread.locator('li p').allInnerTexts();
    expect(texts.filter((t) => t === third)).toHaveLength(1);
    expect(texts.filter((t) => t === first || t === second)).toHaveLength(2);
    await Promise.all([alicePage.context().close(), context.close()]);
  });
  it('the conversation is kept in this browser, encrypted: a reload shows it before the site answers; logout removes it', async () => {
    const alicePage = await loginAndOpenMessages(alice, 'alice');
    const bobPage = await loginAndOpenMessages(bob, 'bob');
    await alicePage.getByPlaceholder('Message someone: name@example.com').fill(bob.address('bob'));
    await alicePage.getByRole('button', { name: 'Open' }).click();
    const texts = [`kept one ${crypto.randomUUID()}`, `kept two ${crypto.randomUUID()}`];
    for (const text of texts) {
      await alicePage.getByLabel(`Message to ${bob.address('bob')}`).fill(text);
      await alicePage.getByRole('button', { name: 'Send' }).click();
      await expect.poll(() => alicePage.locator('ol.thread').innerText()).toContain(text);
    }
    const withAlice = `${bob.url}/messages?with=${encodeURIComponent(alice.address('alice'))}`;
    await bobPage.goto(withAlice);
    await expect.poll(() => bobPage.locator('ol.thread').innerText(), { timeout: 15_000 }).toContain(texts[1]);

    // What IndexedDB holds for the history is ciphertext, and its key cannot be read out.
    const kept = () =>
      bobPage.evaluate(async () => {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const open = indexedDB.open('hearth-history');
          open.onsuccess = () => resolve(open.result);
          open.onerror = () => reject(open.error);
        });
        const rows = await new Promise<Array<{ iv: Uint8Array; data: ArrayBuffer }>>((resolve) => {
          const request = db.transaction('chunks').objectStore('chunks').getAll();
          request.onsuccess = () => resolve(request.result);
        });
        db.close();
        return rows.map((r) => new TextDecoder().decode(r.data));
      });
    await expect.poll(async () => (await kept()).length).toBeGreaterThan(0);
    for (const text of texts) expect((await kept()).some((row) => row.includes(text))).toBe(false);

    // A reload shows the conversation while the site has not answered for messages yet.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const asked: string[] = [];
    await bobPage.route('**/api/dms?**', async (route) => {
      asked.push(new URL(route.request().url()).search);
      await held;
      await route.continue();
    });
    await bobPage.reload();
    await expect.poll(() => bobPage.locator('ol.thread').innerText(), { timeout: 15_000 }).toContain(texts[0]);
    expect(await bobPage.locator('ol.thread li p').allInnerTexts()).toEqual(expect.arrayContaining(texts));
    release();
    // Then it asks only for what came after what it kept.
    await expect.poll(() => asked.length).toBeGreaterThan(0);
    expect(asked.every((search) => /^\?after=[1-9]\d*&/.test(search))).toBe(true);
    await bobPage.unroute('**/api/dms?**');

    // Logging out removes the kept history and its key from this browser.
    await bobPage.getByRole('button', { name: 'Log out' }).click();
    await bobPage.waitForURL(`${bob.url}/`);
    expect(await kept()).toEqual([]);
    const atRestKeys = await bobPage.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve) => {
        const open = indexedDB.open('keyval-store');
        open.onsuccess = () => resolve(open.result);
      });
      const names = await new Promise<IDBValidKey[]>((resolve) => {
        const request = db.transaction('keyval').objectStore('keyval').getAllKeys();
        request.onsuccess = () => resolve(request.result);
      });
      db.close();
      return names.map(String).filter((name) => name.startsWith('hearth.historyKey.'));
    });
    expect(atRestKeys).toEqual([]);
    await Promise.all([alicePage.context().close(), bobPage.context().close()]);
  });
  it('a long conversation shows its latest 100 messages first, and earlier ones on request', async () => {
    const bobPage = await loginAndOpenMessages(bob, 'bob');
    const sender = await DmSender.create(alice, 'alice');
    const tag = crypto.randomUUID().slice(0, 8);
    // One at a time, so that each has its own send time and the order is certain.
    const texts = Array.from({ length: 150 }, (_, i) => `long ${tag} number ${i}`);
    await sender.send(bob.address('bob'), texts, 1);
    await bobPage.goto(`${bob.url}/messages?with=${encodeURIComponent(alice.address('alice'))}`);
    const shown = () => bobPage.locator('ol.thread li p').allInnerTexts();
    // Sent means accepted by alice's site; the last ones may reach bob's a moment later (and show live).
    await expect.poll(async () => (await shown()).at(-1), { timeout: 20_000 }).toBe(texts[149]);
    expect((await shown()).filter((t) => t.includes(tag))).toHaveLength(100);
    expect(await shown()).not.toContain(texts[0]);
    // Opened at its end, as chat apps do: the latest messages and the box to answer in are on screen.
    const inView = (locator: ReturnType<Page['locator']>) => locator.evaluate((el) => el.getBoundingClientRect().top >= 0 && el.getBoundingClientRect().bottom <= window.innerHeight);
    await expect.poll(() => inView(bobPage.getByLabel(`Message to ${alice.address('alice')}`))).toBe(true);
    expect(await inView(bobPage.locator('ol.thread li').last())).toBe(true);
    await bobPage.getByRole('button', { name: 'Show earlier messages' }).click();
    await expect.poll(async () => (await shown()).filter((t) => t.includes(tag)).length).toBe(150);
    expect((await shown()).filter((t) => t.includes(tag))).toEqual(texts);
    expect(await bobPage.getByRole('button', { name: 'Show earlier messages' }).count()).toBe(0);
    await bobPage.context().close();
  });
});
