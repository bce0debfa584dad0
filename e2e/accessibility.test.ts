import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess } from '../tests/helpers/sites.js';
import { launchBrowser, screenshots } from './browser.js';

/** Keyboard only, and the dark theme: the site must work without a mouse and follow the system's colours. */
describe('accessibility basics', () => {
  let browser: Browser;
  let site: SiteProcess;

  beforeAll(async () => {
    [browser, site] = await Promise.all([launchBrowser(), SiteProcess.create(['kim'])]);
    await site.api('POST', '/api/posts', { as: 'kim', body: { text: 'Typed without a mouse' } });
  });
  afterAll(async () => {
    await browser?.close();
    await site?.destroy();
  });

  it('logs in and posts with the keyboard alone, with a visible focus ring', async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/login`);
    await page.getByLabel('Username').waitFor();
    await page.keyboard.press('Tab'); // the skip link comes first
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.getByLabel('Username').focus();
    await page.keyboard.type('kim');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    await page.keyboard.type(SiteProcess.password('kim'));
    await page.keyboard.press('Enter');
    await page.waitForURL(`${site.url}/home`);
    await page.getByLabel(/What's on your mind/).focus();
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.type('Posted from the keyboard');
    await page.keyboard.press('Tab'); // to the hint-free next control, then on to Post
    const post = page.getByRole('button', { name: 'Post', exact: true });
    await post.focus();
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await site.api('GET', '/api/users/kim/posts')).body.items[0].text).toBe('Posted from the keyboard');
    await page.close();
  });

  it("follows the system's dark theme", async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const context = await browser.newContext({ colorScheme });
      const page = await context.newPage();
      await page.goto(`${site.url}/@kim`);
      await expect.poll(() => page.locator('article.post').count()).toBeGreaterThan(0);
      const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
      const [r, g, b] = background.match(/\d+/g)!.map(Number);
      const luminance = (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
      if (colorScheme === 'dark') {
        expect(luminance).toBeLessThan(0.2);
        await screenshots(page, 'profile-dark');
      } else {
        expect(luminance).toBeGreaterThan(0.8);
      }
      await context.close();
    }
  });
});
