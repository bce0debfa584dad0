import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropUdpBetween, TestNetwork } from '../tests/helpers/netns.js';
import { SiteProcess } from '../tests/helpers/sites.js';
import { launchBrowser, loginPage } from './browser.js';
import { expectMediaFlowing, placeVideoCall } from './call-flow.js';

/**
 * (c) The direct path is blocked and ICE finds the relay by itself: alice's and bob's browsers
 * each run in a network namespace of their own. Each reaches this host, where both sites and
 * their coturn listen, but UDP between the two networks is dropped, so no direct path exists.
 * Neither browser forces the relay: "always relay" stays off.
 */
describe('a call whose direct path is blocked', { timeout: 180_000 }, () => {
  let aliceNet: TestNetwork;
  let bobNet: TestNetwork;
  let undoDrop: () => void;
  let browsers: Browser[] = [];
  let alice: SiteProcess;
  let bob: SiteProcess;
  let alicePage: Page;
  let bobPage: Page;

  beforeAll(async () => {
    aliceNet = TestNetwork.create('alice');
    bobNet = TestNetwork.create('bob');
    undoDrop = dropUdpBetween(aliceNet, bobNet);
    // Each site (and its coturn) on the host's address in its owner's network.
    [alice, bob] = await Promise.all([
      SiteProcess.create(['alice'], { turn: true, publicHost: aliceNet.hostIp }),
      SiteProcess.create(['bob'], { turn: true, publicHost: bobNet.hostIp }),
    ]);
    await alice.api('POST', '/api/following', { as: 'alice', body: { address: bob.address('bob') } });
    await bob.api('POST', '/api/following', { as: 'bob', body: { address: alice.address('alice') } });
    browsers = await Promise.all([aliceNet, bobNet].map((net) => launchBrowser({ media: true, executablePath: net.chromiumWrapper(), secureOrigins: [alice.publicUrl, bob.publicUrl] })));
    [alicePage, bobPage] = await Promise.all([loginPage(browsers[0]!, alice, 'alice', alice.publicUrl), loginPage(browsers[1]!, bob, 'bob', bob.publicUrl)]);
  });
  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await Promise.all([alice?.destroy(), bob?.destroy()]);
    undoDrop?.();
    aliceNet?.destroy();
    bobNet?.destroy();
  });

  it('(c) falls back to a relay on its own, and media flows', async () => {
    // The two browsers really cannot reach each other directly (here: not even by TCP).
    expect(() => aliceNet.exec('timeout', '2', 'bash', '-c', `exec 3<>/dev/tcp/${bobNet.innerIp}/9`)).toThrow();
    for (const page of [alicePage, bobPage]) {
      await page.goto(`${page === alicePage ? alice.publicUrl : bob.publicUrl}/settings`);
      expect(await page.getByRole('checkbox', { name: /Always relay my calls/ }).isChecked()).toBe(false);
    }
    await placeVideoCall({ page: alicePage, url: alice.publicUrl }, { page: bobPage, url: bob.publicUrl, address: bob.address('bob') }, alice.address('alice'));
    await expectMediaFlowing([alicePage, bobPage], /^relayed by /);
    await alicePage.getByRole('button', { name: 'Hang up' }).click();
    await expect.poll(() => bobPage.getByRole('dialog').innerText()).toContain('hung up');
  });
});
