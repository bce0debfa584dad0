import { generateAgreementKeyPair, generateSigningKeyPair, sealCallSignal } from '@hearth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { HEARTH, openLive, ROOT, SiteProcess } from './helpers/sites.js';

/**
 * Call signalling through two real sites: only between people who follow each other, delivered
 * now or never, and pushed to the callee's open pages as sealed signals the sites cannot read.
 */
describe('call signalling', () => {
  let a: SiteProcess;
  let b: SiteProcess;
  const device = { id: 'test-device-1', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
  const sealedFor = (from: string, to: string) => sealCallSignal(device, [{ id: 'bob-device', dhKey: generateAgreementKeyPair().publicKey }], { callId: 'call1', kind: 'offer', from, to, sdp: 'v=0 a secret sdp', video: true });

  beforeAll(async () => {
    [a, b] = await Promise.all([SiteProcess.create(['alice', 'carol']), SiteProcess.create(['bob'])]);
    await a.api('POST', '/api/following', { as: 'alice', body: { address: b.address('bob') } });
    await b.api('POST', '/api/following', { as: 'bob', body: { address: a.address('alice') } });
  });
  afterAll(async () => {
    await Promise.all([a?.destroy(), b?.destroy()]);
  });

  /** The call events of a user's open page (not the follow notifications still arriving). */
  const liveEvents = (site: SiteProcess, user: string) => openLive(site, user, (event) => event.type === 'call');

  it('a ring between people who follow each other reaches the callee\'s open page, sealed', async () => {
    await b.token('bob');
    const live = await liveEvents(b, 'bob');
    const sealed = sealedFor(a.address('alice'), b.address('bob'));
    const sent = await a.api('POST', '/api/calls/signal', { as: 'alice', body: { to: b.address('bob'), callId: 'call1', sealed } });
    expect(sent.status).toBe(202);
    await expect.poll(() => live.events.length).toBe(1);
    expect(live.events[0]).toEqual({ type: 'call', from: a.address('alice'), callId: 'call1', sealed });
    live.close();
    // Neither site kept the signal, and the SDP never appears in clear.
    for (const site of [a, b]) expect(site.databaseBytes().includes(Buffer.from('a secret sdp'))).toBe(false);
  });

  it('nobody rings someone they do not follow, nor someone who does not follow them', async () => {
    const unfollowed = await a.api('POST', '/api/calls/signal', { as: 'carol', body: { to: b.address('bob'), callId: 'call2', sealed: sealedFor(a.address('carol'), b.address('bob')) } });
    expect(unfollowed.status).toBe(403);
    expect(unfollowed.body.error).toMatchObject({ code: 'not_allowed', message: expect.stringMatching(/only people you follow/) });
    // carol follows bob, but bob does not follow carol: bob's site refuses the ring.
    await a.api('POST', '/api/following', { as: 'carol', body: { address: b.address('bob') } });
    const refused = await a.api('POST', '/api/calls/signal', { as: 'carol', body: { to: b.address('bob'), callId: 'call3', sealed: sealedFor(a.address('carol'), b.address('bob')) } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'not_allowed', message: expect.stringMatching(/takes calls only from people they follow or allow/) });
    // bob may allow carol to call without following her; and take it back.
    expect((await b.api('POST', '/api/calls/allowed', { as: 'bob', body: { address: a.address('carol') } })).status).toBe(201);
    expect((await b.api('GET', '/api/calls/allowed', { as: 'bob' })).body.items.map((i: { address: string }) => i.address)).toEqual([a.address('carol')]);
    const allowed = await a.api('POST', '/api/calls/signal', { as: 'carol', body: { to: b.address('bob'), callId: 'call5', sealed: sealedFor(a.address('carol'), b.address('bob')) } });
    expect(allowed.status).toBe(202);
    expect((await b.api('DELETE', `/api/calls/allowed/${encodeURIComponent(a.address('carol'))}`, { as: 'bob' })).status).toBe(204);
    expect((await a.api('POST', '/api/calls/signal', { as: 'carol', body: { to: b.address('bob'), callId: 'call6', sealed: sealedFor(a.address('carol'), b.address('bob')) } })).status).toBe(403);
    expect((await b.api('DELETE', `/api/calls/allowed/${encodeURIComponent(a.address('carol'))}`, { as: 'bob' })).status).toBe(404);
    const anonymous = await a.api('POST', '/api/calls/signal', { body: { to: b.address('bob'), callId: 'call4', sealed: sealedFor(a.address('alice'), b.address('bob')) } });
    expect(anonymous.status).toBe(401);
    const malformed = await a.api('POST', '/api/calls/signal', { as: 'alice', body: { to: b.address('bob'), callId: 'has spaces', sealed: {} } });
    expect(malformed.status).toBe(400);
  });

  it('"hearth start --turn" says clearly when coturn is not installed, and does not start half a site', async () => {
    await a.stop();
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const proc = spawn(process.execPath, [HEARTH, 'start', '--data', a.dataDir, '--turn', '--log-level', 'warn'], { cwd: ROOT, env: { ...process.env, HEARTH_TURNSERVER: '/nonexistent/turnserver' } });
      let output = '';
      proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
      proc.on('exit', (code) => resolve({ code, output }));
    });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/coturn is not installed.*apt-get install coturn/);
    expect(await fetch(`${a.url}/healthz`).then(() => 'up', () => 'down')).toBe('down');
    expect(a.siteConfig()).not.toHaveProperty('turn'); // nothing changed
    await a.start();
  });

  it('TURN credentials need a login, and a site without a relay says so', async () => {
    expect((await a.api('GET', '/api/turn-credentials')).status).toBe(401);
    const none = await a.api('GET', '/api/turn-credentials', { as: 'alice' });
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('turn_not_configured');
  });
});
