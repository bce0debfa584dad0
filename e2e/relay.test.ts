import { createEnvelope, deriveRelayKeyPair, parseAddress, sealForSite } from '@hearth/protocol';
import { nodeSigner } from '@hearth/protocol/node';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess } from '../tests/helpers/sites.js';
import { seriousViolations } from './axe.js';
import { launchBrowser, loginPage, screenshots } from './browser.js';

/** The friends relay in Settings: choosing relays, relaying for a friend, and what was relayed for them. */
describe('friends relay settings in the browser', { timeout: 120_000 }, () => {
  let browser: Browser;
  let alice: SiteProcess;
  let bob: SiteProcess;
  let carol: SiteProcess;
  let alicePage: Page;
  let carolPage: Page;

  beforeAll(async () => {
    [browser, alice, bob, carol] = await Promise.all([launchBrowser(), SiteProcess.create(['alice']), SiteProcess.create(['bob']), SiteProcess.create(['carol'])]);
    [alicePage, carolPage] = await Promise.all([loginPage(browser, alice, 'alice'), loginPage(browser, carol, 'carol')]);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([alice, bob, carol].map((s) => s?.destroy()));
  });

  it('alice chooses carol as her relay; carol relays for alice and bob, sees what she passed on, and stops', async () => {
    await alicePage.goto(`${alice.url}/settings`);
    const relay = alicePage.getByRole('region', { name: 'Friends relay' });
    await expect.poll(() => relay.getByText('None yet').count()).toBe(1);
    await relay.getByLabel('Address of a friend who relays for you').fill(carol.address('carol'));
    await relay.getByRole('button', { name: 'Use as relay' }).click();
    await expect.poll(() => relay.getByRole('list', { name: 'Relays you use' }).getByText(carol.address('carol')).count()).toBe(1);
    // A typo gets a plain answer, and nothing is added.
    await relay.getByLabel('Address of a friend who relays for you').fill('carol at home');
    await relay.getByRole('button', { name: 'Use as relay' }).click();
    await expect.poll(() => relay.getByRole('alert').innerText()).toMatch(/address/i);
    expect((await alice.api('GET', '/api/relay/mine', { as: 'alice' })).body.relays).toEqual([carol.address('carol')]);

    await carolPage.goto(`${carol.url}/settings`);
    const carols = carolPage.getByRole('region', { name: 'Friends relay' });
    for (const friend of [alice.address('alice'), bob.address('bob')]) {
      await carols.getByLabel('Address of a friend to relay for').fill(friend);
      await carols.getByRole('button', { name: 'Relay for them' }).click();
      await expect.poll(() => carols.getByRole('list', { name: 'People you relay for' }).getByText(friend).count()).toBe(1);
    }
    // Something relayed for alice: a follow of bob, sealed for bob's site.
    const from = parseAddress(alice.address('alice'));
    const signer = nodeSigner(alice.siteKeyOf('alice'));
    const inner = createEnvelope({ type: 'follow', from, to: parseAddress(bob.address('bob')), data: {} }, signer);
    const bobSite = parseAddress(bob.address('x'));
    const outer = createEnvelope(
      { type: 'relay', from, to: parseAddress(carol.address('carol')), data: { next: { host: bobSite.host, port: bobSite.port }, hops: 1, sealed: sealForSite([JSON.stringify(inner)], deriveRelayKeyPair(bob.siteConfig().serverKey.secretKey).publicKey) } },
      signer,
    );
    expect((await carol.api('POST', '/federation/inbox', { raw: JSON.stringify(outer) })).status).toBe(202);
    await carolPage.reload();
    const aliceRow = carols.getByRole('list', { name: 'People you relay for' }).getByRole('listitem').filter({ hasText: alice.address('alice') });
    await expect.poll(() => aliceRow.innerText()).toMatch(/today 1 message \(1 KB\)/);
    expect(await seriousViolations(carolPage)).toEqual([]);
    await screenshots(carolPage, 'settings-relay');
    await aliceRow.getByRole('button', { name: `Stop relaying for ${alice.address('alice')}` }).click();
    await expect.poll(() => carols.getByRole('status').innerText()).toContain('no longer passes on anything');
    await expect.poll(() => aliceRow.count()).toBe(0);
  });
});
