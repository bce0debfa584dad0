import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, SiteProcess } from '../tests/helpers/sites.js';

/** Debian's Chromium, headless, with this machine's required flags (no downloads, no background traffic). */
export function launchBrowser(options: { media?: boolean | 'refused'; executablePath?: string; secureOrigins?: string[]; args?: string[] } = {}): Promise<Browser> {
  // media: a fake camera and microphone, granted without a prompt, and video that plays by itself.
  // 'refused': the same devices, but no fake prompt, so headless Chromium answers every prompt "no".
  const media =
    options.media === 'refused'
      ? ['--use-fake-device-for-media-stream']
      : options.media
        ? ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required']
        : [];
  // A test site on a private network is plain http; treat it as the https site it stands for
  // (cameras, microphones and WebCrypto need a secure page).
  if (options.secureOrigins?.length) media.push(`--unsafely-treat-insecure-origin-as-secure=${options.secureOrigins.join(',')}`);
  return chromium.launch({
    executablePath: options.executablePath ?? process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...media, ...(options.args ?? [])],
  });
}

export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');

/** Saves a screenshot of the page at desktop and at phone width, for a reviewer to look at. */
export async function screenshots(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const original = page.viewportSize();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-phone.png`), fullPage: true });
  if (original) await page.setViewportSize(original);
}

/** Logs a person in, in a browser context of their own (its own keys: one of their devices). */
export async function loginPage(browser: Browser, site: SiteProcess, user: string, siteUrl = site.url): Promise<Page> {
  const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
  await page.goto(`${siteUrl}/login`);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(SiteProcess.password(user));
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${siteUrl}/home`);
  return page;
}
