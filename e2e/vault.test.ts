import crypto from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess, waitFor } from '../tests/helpers/sites.js';
import { DmSender, VaultProcess, vaultStatus } from '../tests/helpers/vault.js';
import { launchBrowser, loginPage, screenshots } from './browser.js';

/** A new browser gets its history from the home vault, and the settings page shows the vault. */
describe('home vault in the browser', { timeout: 120_000 }, () => {
  let browser: Browser;
  let alice: SiteProcess;
  let bob: SiteProcess;
  let vault: VaultProcess;

  beforeAll(async () => {
    [browser, alice, bob] = await Promise.all([launchBrowser(), SiteProcess.create(['alice']), SiteProcess.create(['bob'])]);
    vault = await VaultProcess.pair(alice, 'alice');
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([vault?.destroy(), alice?.destroy(), bob?.destroy()]);
  });

  it('a browser that joins later reads older messages from the vault; settings show its state', async () => {
    // Sent while alice's only device is her vault: no browser of hers could decrypt it itself.
    const early = `The keys are with the neighbour ${crypto.randomUUID()}`;
    await (await DmSender.create(bob, 'bob')).send(alice.address('alice'), [early]);
    vault.start();
    await waitFor('the vault to hold the message', async () => (await vault.messages()).some((m) => m.text === early), 30_000);

    const page = await loginPage(browser, alice, 'alice');

    await page.goto(`${alice.url}/settings`);
    const section = page.getByRole('region', { name: 'Home vault' });
    await expect.poll(() => section.innerText()).toMatch(/Online[\s\S]*Messages waiting for it\s*0/);
    await section.getByRole('button', { name: 'Pair a new vault' }).click();
    await expect.poll(() => section.locator('code').innerText()).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
    await screenshots(page, 'settings-vault');

    await page.getByRole('link', { name: 'Messages' }).click();
    await expect.poll(() => page.getByText('Including the history kept by your home vault.').count(), { timeout: 15_000 }).toBe(1);
    await page.getByRole('button', { name: bob.address('bob') }).click();
    await expect.poll(() => page.locator('ol.thread').innerText()).toContain(early);
    await screenshots(page, 'messages-from-vault');

    // With the vault offline, the page says what is missing instead of failing.
    await vault.stop();
    await waitFor('the vault to be offline', async () => !(await vaultStatus(alice, 'alice')).online);
    await page.reload();
    await expect.poll(() => page.getByText('Your home vault is offline').count(), { timeout: 15_000 }).toBe(1);
    expect(alice.databaseBytes().includes(Buffer.from(early))).toBe(false);
    await page.context().close();
  });
});
