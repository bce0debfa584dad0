import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess } from '../tests/helpers/sites.js';
import { launchBrowser, loginPage, screenshots } from './browser.js';
import { expectMediaFlowing, placeVideoCall, waitWhileProgressing } from './call-flow.js';

/**
 * Calls between two people on two sites, in two headless Chromium contexts with fake camera and
 * microphone. Each site runs its own coturn (`hearth start --turn`). The figures come from each
 * browser's own getStats, shown on the call screen.
 */
describe('calls between browsers', { timeout: 180_000 }, () => {
  let browser: Browser;
  let alice: SiteProcess;
  let bob: SiteProcess;
  let alicePage: Page;
  let bobPage: Page;

  beforeAll(async () => {
    [browser, alice, bob] = await Promise.all([launchBrowser({ media: true }), SiteProcess.create(['alice'], { turn: true }), SiteProcess.create(['bob'], { turn: true })]);
    // People who follow each other may call each other.
    expect((await alice.api('POST', '/api/following', { as: 'alice', body: { address: bob.address('bob') } })).status).toBeLessThan(300);
    expect((await bob.api('POST', '/api/following', { as: 'bob', body: { address: alice.address('alice') } })).status).toBeLessThan(300);
    [alicePage, bobPage] = await Promise.all([loginPage(browser, alice, 'alice'), loginPage(browser, bob, 'bob')]);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  const setAlwaysRelay = async (page: Page, site: SiteProcess, on: boolean) => {
    await page.goto(`${site.url}/settings`);
    const box = page.getByRole('checkbox', { name: /Always relay my calls/ });
    if ((await box.isChecked()) !== on) await box.click();
    expect(await box.isChecked()).toBe(on);
  };

  async function callAndCheck(expectedPath: RegExp, shotName: string): Promise<void> {
    // bob is on another page of his site: the ring reaches him there.
    await placeVideoCall({ page: alicePage, url: alice.url }, { page: bobPage, url: bob.url, address: bob.address('bob') }, alice.address('alice'));
    await expectMediaFlowing([alicePage, bobPage], expectedPath);
    await screenshots(bobPage, shotName);

    // Chat and a 5 MB file over the data channel, checked byte for byte on arrival.
    const hello = `over the data channel ${crypto.randomUUID()}`;
    await alicePage.getByLabel('Chat message').fill(hello);
    await alicePage.getByRole('dialog').getByRole('button', { name: 'Send', exact: true }).click();
    await expect.poll(() => bobPage.locator('.call-chat').innerText()).toContain(hello);
    const file = crypto.randomBytes(5 * 1024 * 1024);
    const digest = crypto.createHash('sha256').update(file).digest('hex');
    await alicePage.setInputFiles('#call-file', { name: 'holiday.bin', mimeType: 'application/octet-stream', buffer: file });
    // A loaded machine moves the file slower: wait as long as it keeps moving.
    const progress = bobPage.getByLabel('Transfer of holiday.bin');
    await waitWhileProgressing(
      'the 5 MB file',
      async () => ({ chat: await bobPage.locator('.call-chat').innerText(), received: await progress.getAttribute('value', { timeout: 1000 }).catch(() => null) }),
      (state) => /holiday\.bin .* received intact/.test(state.chat),
    );
    // bob downloads it as a person would, and gets the same bytes.
    const [download] = await Promise.all([bobPage.waitForEvent('download'), bobPage.getByRole('link', { name: 'Download' }).click()]);
    expect(download.suggestedFilename()).toBe('holiday.bin');
    expect(crypto.createHash('sha256').update(fs.readFileSync(await download.path())).digest('hex')).toBe(digest);

    await alicePage.getByRole('button', { name: 'Hang up' }).click();
    await expect.poll(() => bobPage.getByRole('dialog').innerText()).toContain(`${alice.address('alice')} hung up`);
    await alicePage.getByRole('button', { name: 'Close' }).click();
    await bobPage.getByRole('button', { name: 'Close' }).click();
  }

  it('(a) a direct call: audio, video, chat and a 5 MB file arrive; the screen says the path is direct', async () => {
    await callAndCheck(/^direct$/, 'call-direct');
  });

  it('(b) with "always relay", the call goes through the sites\' own coturn', async () => {
    await setAlwaysRelay(alicePage, alice, true);
    await setAlwaysRelay(bobPage, bob, true);
    await callAndCheck(/^relayed by your site$/, 'call-relayed');
    await setAlwaysRelay(alicePage, alice, false);
    await setAlwaysRelay(bobPage, bob, false);
  });

  it('a ring is checked with the certificate it carries, without looking the caller up again, and ICE candidates travel in batches', async () => {
    // bob has talked with alice before: her identity key is pinned in his browser.
    await bobPage.goto(`${bob.url}/messages?with=${encodeURIComponent(alice.address('alice'))}`);
    await expect.poll(() => bobPage.locator('.safety').innerText(), { timeout: 20_000 }).toMatch(/\d{5}/);
    // Away from Messages before counting: its own reading of the conversation may still look alice
    // up (its senders' keys), and that is not the ring's doing.
    await bobPage.goto(`${bob.url}/home`);
    const lookups: string[] = [];
    const signals: string[] = [];
    const onBob = (request: { url(): string }) => void (request.url().includes('/api/lookup') && lookups.push(request.url()));
    const onAlice = (request: { url(): string; method(): string }) => void (request.method() === 'POST' && request.url().endsWith('/api/calls/signal') && signals.push(request.url()));
    bobPage.on('request', onBob);
    alicePage.on('request', onAlice);
    try {
      await placeVideoCall({ page: alicePage, url: alice.url }, { page: bobPage, url: bob.url, address: bob.address('bob') }, alice.address('alice'));
      await expectMediaFlowing([alicePage, bobPage], /^direct$/);
      const sentUntilUp = signals.length;
      await alicePage.getByRole('button', { name: 'Hang up' }).click();
      await expect.poll(() => bobPage.getByRole('dialog').innerText()).toContain(`${alice.address('alice')} hung up`);
      // Opening the ring and every later signal needed no lookup of alice.
      expect(lookups).toEqual([]);
      // The offer, "accept", and the candidates in a few batches; one signal per candidate was
      // 12 to 20 here (each network interface, host and reflexive, and the relay).
      expect(sentUntilUp).toBeLessThanOrEqual(8);
    } finally {
      bobPage.off('request', onBob);
      alicePage.off('request', onAlice);
    }
    await alicePage.getByRole('button', { name: 'Close' }).click();
    await bobPage.getByRole('button', { name: 'Close' }).click();
  });

  it('(d) coturn relays only with valid credentials from the site: forged and expired ones are refused', async () => {
    const good = (await alice.api('GET', '/api/turn-credentials', { as: 'alice' })).body as { urls: string[]; username: string; credential: string; ttl: number };
    expect(good.urls.every((u) => u.includes(`127.0.0.1:${/:(\d+)/.exec(good.urls[0]!.slice(5))![1]}`))).toBe(true);
    expect(good.username).toMatch(/^\d+:alice$/);
    const secret = (JSON.parse(fs.readFileSync(path.join(alice.dataDir, 'hearth.json'), 'utf8')) as { turn: { secret: string } }).turn.secret;
    const expiredName = `${Math.floor(Date.now() / 1000) - 60}:alice`;
    const expired = { ...good, username: expiredName, credential: crypto.createHmac('sha1', secret).update(expiredName).digest('base64') };
    const forged = { ...good, credential: crypto.createHmac('sha1', 'not the secret').update(good.username).digest('base64') };
    const gather = (creds: typeof good) =>
      alicePage.evaluate(async (c) => {
        const pc = new RTCPeerConnection({ iceServers: [{ urls: c.urls, username: c.username, credential: c.credential }], iceTransportPolicy: 'relay' });
        pc.createDataChannel('probe');
        const relay: string[] = [];
        const errors: number[] = [];
        pc.onicecandidate = (e) => e.candidate && relay.push(e.candidate.type ?? '');
        pc.onicecandidateerror = (e) => errors.push((e as RTCPeerConnectionIceErrorEvent).errorCode);
        await pc.setLocalDescription(await pc.createOffer());
        await new Promise((r) => setTimeout(r, 2500));
        pc.close();
        return { relay, errors };
      }, creds);
    const ok = await gather(good);
    expect(ok.relay).toContain('relay');
    for (const bad of [forged, expired]) {
      const refused = await gather(bad);
      expect(refused.relay).toEqual([]);
      expect(refused.errors).toContain(401);
    }
    expect((await alice.api('GET', '/api/turn-credentials')).status).toBe(401);
  });

  it('when one of bob\'s devices answers, his other device stops ringing', async () => {
    const bobPhone = await loginPage(browser, bob, 'bob'); // a second browser of bob's: another device
    await bobPhone.goto(`${bob.url}/home`);
    await placeVideoCall({ page: alicePage, url: alice.url }, { page: bobPage, url: bob.url, address: bob.address('bob') }, alice.address('alice'), [bobPhone]);
    await expect.poll(() => bobPhone.getByRole('dialog').innerText(), { timeout: 15_000 }).toContain('Answered on another device.');
    await expectMediaFlowing([alicePage, bobPage], /^direct$/);
    await alicePage.getByRole('button', { name: 'Hang up' }).click();
    await alicePage.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => bobPage.getByRole('button', { name: 'Close' }).count()).toBe(1);
    await bobPage.getByRole('button', { name: 'Close' }).click();
    await bobPhone.context().close();
  });

  it('a browser that refuses the camera and microphone gets a clear message instead of a call', async () => {
    const strict = await launchBrowser({ media: 'refused' });
    try {
      const page = await loginPage(strict, alice, 'alice');
      await page.goto(`${alice.url}/messages`);
      await page.getByPlaceholder('Message someone: name@example.com').fill(bob.address('bob'));
      await page.getByRole('button', { name: 'Open' }).click();
      await page.getByRole('button', { name: 'Call', exact: true }).click();
      await expect.poll(() => page.getByRole('dialog').innerText(), { timeout: 15_000 }).toContain('did not allow the microphone or camera');
    } finally {
      await strict.close();
    }
  });

  it('the network test in settings reports what this device can do', async () => {
    await alicePage.goto(`${alice.url}/settings`);
    await alicePage.getByRole('button', { name: 'Network test' }).click();
    await expect.poll(() => alicePage.getByRole('list', { name: 'Network test result' }).innerText(), { timeout: 20_000 }).toContain('Relay: available');
    // Someone alice does not follow may still call her once she allows it.
    await alicePage.getByLabel('Address of someone who may call you').fill('carol@example.com');
    await alicePage.getByRole('button', { name: 'Allow calls' }).click();
    await expect.poll(() => alicePage.getByRole('region', { name: 'May call me' }).innerText()).toContain('carol@example.com');
    expect((await alice.api('GET', '/api/calls/allowed', { as: 'alice' })).body.items).toEqual([expect.objectContaining({ address: 'carol@example.com' })]);
  });
});
