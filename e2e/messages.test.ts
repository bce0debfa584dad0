import crypto from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess } from '../tests/helpers/sites.js';
import { launchBrowser, screenshots } from './browser.js';

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
});
