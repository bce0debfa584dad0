import crypto from 'node:crypto';
import {
  createEnvelope,
  encryptDm,
  generateAgreementKeyPair,
  generateSigningKeyPair,
  newEnvelopeId,
  nobleSigner,
  parseAddress,
  signDmPlaintext,
  toBase64url,
  type Address,
  type Envelope,
  type EnvelopeType,
  type MessageData,
} from '@hearth/protocol';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSite } from './helpers/fake-site.js';
import { dialLink, sendOverLink } from './helpers/link-client.js';
import { hearth, SiteProcess, waitFor } from './helpers/sites.js';

/**
 * The defects an independent implementation found (issue 9), one test each, with real sites on
 * loopback: each refused input leaves nothing behind.
 */
describe('protocol hardening', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;
  let fake: FakeSite;
  let other: FakeSite;
  let postId: string;

  beforeAll(async () => {
    [alice, bob, fake, other] = await Promise.all([SiteProcess.create(['alice', 'mallory', 'carl']), SiteProcess.create(['bob']), FakeSite.start(), FakeSite.start()]);
    postId = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'tea at four' } })).body.id;
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy(), fake?.close(), other?.close()]);
  });

  const to = () => parseAddress(bob.address('bob'));
  const sign = <T extends EnvelopeType>(from: Address, type: T, data: MessageData[T], key: { publicKey: string; secretKey: string }, fields: { ts?: string; to?: Address } = {}): Envelope<T> =>
    createEnvelope({ type, from, to: fields.to ?? to(), data, ts: fields.ts }, nobleSigner(key));
  const from = (user: string) => parseAddress(alice.address(user));
  const commentData = (text: string, createdAt = new Date().toISOString()) => ({ post: { id: postId }, comment: { id: crypto.randomUUID(), text, createdAt } });
  const send = (body: unknown) => bob.api('POST', '/federation/inbox', { raw: typeof body === 'string' ? body : JSON.stringify(body) });
  const state = () => ({
    comments: bob.count('select count(*) n from comments'),
    seen: bob.count('select count(*) n from inbox_seen'),
    followers: bob.count('select count(*) n from followers'),
    remotePosts: bob.count('select count(*) n from remote_posts'),
    dms: bob.count('select count(*) n from dm_messages'),
    notifications: bob.count('select count(*) n from notifications'),
  });
  const expectError = (res: { status: number; body: any }, status: number, code: string) => {
    expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
    expect(res.body.error.message.length).toBeGreaterThan(5);
  };
  const comments = async () => (await bob.api('GET', `/api/users/bob/posts/${postId}`)).body.comments as Array<{ id: string; text: string; author: string }>;

  it('1. a key rotation loses nothing, and the old key stops working', async () => {
    // bob learns alice's key from a first comment.
    await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: postId }, text: 'before the rotation' } });
    await waitFor('the first comment', async () => (await comments()).some((c) => c.text === 'before the rotation'));
    const oldKey = alice.siteKeyOf('alice');

    const rotated = await alice.api('POST', '/api/me/site-key/rotate', { as: 'alice' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.previous).toBe(oldKey.publicKey);
    const profile = (await alice.api('GET', '/api/users/alice')).body;
    expect(profile.siteKey).toBe(rotated.body.siteKey);
    expect(profile.siteKeyRotation.previous).toBe(oldKey.publicKey);

    // Signed with the new key at once: bob looks again, finds the notice signed by the old key, accepts.
    await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: postId }, text: 'after the rotation' } });
    await waitFor('the comment signed with the new key', async () => (await comments()).some((c) => c.text === 'after the rotation'));

    // The old key is refused from now on, and nothing it signed is stored.
    const before = state();
    const res = await send(sign(from('alice'), 'comment.create', commentData('signed with the retired key'), oldKey));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(['bad_signature', 'key_unknown']).toContain(res.body.error.code);
    expect(state()).toEqual(before);

    // Envelopes queued while bob is down are signed again by a second rotation and still arrive.
    await bob.stop('SIGKILL');
    await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: postId }, text: 'queued across a rotation' } });
    await waitFor('the comment to be queued', () => alice.count("select count(*) n from outbox where status = 'pending'") > 0);
    const second = await alice.api('POST', '/api/me/site-key/rotate', { as: 'alice' });
    expect(second.body.resigned).toBeGreaterThan(0);
    await bob.start();
    // alice's retries wait for her breaker for bob's site, which grew while bob was down (1 s, 2 s, 4 s...).
    await waitFor('the re-signed comment', async () => (await comments()).some((c) => c.text === 'queued across a rotation'), 120_000);
    expect(alice.count("select count(*) n from outbox where status = 'failed'")).toBe(0);
    // Several waits in a row, one of them on a retry after a restart: room for a loaded machine.
  }, 240_000);

  it('1b. hearth user rotate-key works on a running site, which signs with the new key at once', async () => {
    const before = alice.siteKeyOf('carl').publicKey;
    const out = await hearth(['user', 'rotate-key', '--data', alice.dataDir, '--user', 'carl']);
    expect(out.stdout).toMatch(/Rotated the site key of carl/);
    const after = (await alice.api('GET', '/api/users/carl')).body;
    expect(after.siteKey).not.toBe(before);
    expect(after.siteKeyRotation.previous).toBe(before);
    await alice.api('POST', '/api/comments', { as: 'carl', body: { post: { author: bob.address('bob'), id: postId }, text: 'carl, with a new key' } });
    await waitFor('carl\'s comment', async () => (await comments()).some((c) => c.text === 'carl, with a new key'));
    const missing = await hearth(['user', 'rotate-key', '--data', alice.dataDir, '--user', 'nobody'], { allowFailure: true });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no user nobody/);
  });

  it('2. nothing about the recipient is revealed before the signature verifies', async () => {
    expect((await bob.api('POST', '/api/blocks', { as: 'bob', body: { address: alice.address('mallory') } })).status).toBe(201);
    const before = state();
    const junk = (env: Envelope) => ({ ...env, sig: toBase64url(crypto.randomBytes(64)) });
    // mallory is blocked, carl is not: an unsigned envelope gets the same answer for both.
    const blocked = await send(junk(sign(from('mallory'), 'follow', {}, generateSigningKeyPair())));
    const notBlocked = await send(junk(sign(from('carl'), 'follow', {}, generateSigningKeyPair())));
    expectError(blocked, 401, 'bad_signature');
    expectError(notBlocked, 401, 'bad_signature');
    // Nor whether a user exists.
    const nobody = await send(junk(sign(from('carl'), 'follow', {}, generateSigningKeyPair(), { to: { ...to(), username: 'nobody' } })));
    expect(nobody.body.error.code).not.toBe('unknown_user');
    expect(state()).toEqual(before);
    // A correctly signed envelope from mallory is "accepted" like any other: blocks are silent,
    // and nothing of it is stored.
    expect((await send(sign(from('mallory'), 'follow', {}, alice.siteKeyOf('mallory')))).status).toBe(202);
    expect(state()).toEqual(before);
  });

  it('3. made-up senders do not make the site fetch for them', async () => {
    const before = fake.requests.length;
    const answers = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const env = sign(fake.address(`ghost${i}`), 'follow', {}, generateSigningKeyPair());
      const res = await send(env);
      expect(res.status).toBe(401); // unknown_sender, or key_unknown (retry later): never a 5xx
      answers.add(res.body.error.code);
    }
    for (let i = 0; i < 10; i++) await send(sign(fake.address('ghost0'), 'follow', {}, generateSigningKeyPair()));
    const fetched = fake.requests.length - before;
    // At most the per-host budget of failed lookups, and each unknown sender once.
    expect(fetched).toBeLessThanOrEqual(20);
    expect(fake.requestsFor('/api/users/ghost0')).toBe(1);
    expect([...answers].sort()).toEqual(['key_unknown', 'unknown_sender']);
  });

  it('4. small-order and non-canonical keys are refused when first fetched', async () => {
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    other.profiles.set('zero', { username: 'zero', siteKey: toBase64url(identityPoint), identityKey: null, devices: [] });
    const nonCanonical = new Uint8Array(32).fill(0xff);
    nonCanonical[31] = 0x7f;
    other.profiles.set('wide', { username: 'wide', siteKey: toBase64url(nonCanonical), identityKey: null, devices: [] });
    const before = state();
    for (const user of ['zero', 'wide']) {
      const env = sign(other.address(user), 'follow', {}, generateSigningKeyPair());
      // R = identity, S = 0: "verifies" under a small-order key for any message.
      const sig = new Uint8Array(64);
      sig[0] = 1;
      const res = await send({ ...env, sig: toBase64url(sig) });
      expectError(res, 401, 'bad_sender_key');
    }
    expect(state()).toEqual(before);
    expect(bob.count(`select count(*) n from remote_keys where subject like 'user:%@${other.host}'`)).toBe(0);
  });

  it('5. a DM replayed in a new envelope is refused', async () => {
    const device = { id: 'phone', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    const plain = signDmPlaintext(device, { id: newEnvelopeId(), from: alice.address('alice'), to: bob.address('bob'), sentAt: new Date().toISOString(), text: 'only once' });
    const message = encryptDm(plain, [{ id: 'bob-phone', dhKey: generateAgreementKeyPair().publicKey }]);
    expect((await send(sign(from('alice'), 'dm', { message }, alice.siteKeyOf('alice')))).status).toBe(202);
    const before = state();
    const replay = await send(sign(from('alice'), 'dm', { message }, alice.siteKeyOf('alice')));
    expectError(replay, 409, 'duplicate_message');
    expect(state()).toEqual(before);
    expect(bob.count('select count(*) n from vault_queue')).toBe(0);
  });

  it('6. a lone surrogate is a clear 400 (never a retryable 500), over HTTP and over a link', async () => {
    const before = state();
    const env = sign(from('alice'), 'comment.create', commentData('PLACEHOLDER'), alice.siteKeyOf('alice'));
    const raw = JSON.stringify(env).replace('PLACEHOLDER', '\\ud800');
    expectError(await send(raw), 400, 'invalid_json');
    expectError(await bob.api('POST', '/api/posts', { as: 'bob', raw: '{"text":"broken \\udc00 text"}' }), 400, 'invalid_json');
    const link = await dialLink(alice, bob);
    await waitFor('ready', () => link.frames.find((f) => f.t === 'ready'));
    const ack = await sendOverLink(link, env.id, `{"t":"env","env":${raw}}`);
    expect(ack).toMatchObject({ ok: false, code: 'invalid_json', retryable: false });
    // The link stays up and takes the next good envelope.
    const good = sign(from('alice'), 'comment.create', commentData('after the poison'), alice.siteKeyOf('alice'));
    expect(await sendOverLink(link, good.id, JSON.stringify({ t: 'env', env: good }))).toMatchObject({ ok: true });
    link.ws.close();
    expect(state().comments).toBe(before.comments + 1);
    expect(bob.log).not.toMatch(/"level":50/);
  });

  it('7. strict parsing: repeated keys, invalid UTF-8, inexact times, future dates, deletes before creates', async () => {
    const before = state();
    const env = sign(from('alice'), 'comment.create', commentData('strict'), alice.siteKeyOf('alice'));
    const text = JSON.stringify(env);
    expectError(await send(text.replace('"text":"strict"', '"text":"strict","text":"lenient"')), 400, 'invalid_json');
    const bytes = Buffer.from(text.replace('strict', 'stri\u00e9t'));
    const bad = Buffer.concat([bytes.subarray(0, bytes.indexOf(0xc3)), Buffer.from([0xc3, 0x28]), bytes.subarray(bytes.indexOf(0xc3) + 2)]);
    const res = await fetch(`${bob.url}/federation/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bad });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('invalid_json');
    expectError(await send(sign(from('alice'), 'comment.create', commentData('no millis'), alice.siteKeyOf('alice'), { ts: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') })), 400, 'invalid_envelope');
    expectError(await send(sign(from('alice'), 'comment.create', commentData('from the future', '2099-01-01T00:00:00.000Z'), alice.siteKeyOf('alice'))), 400, 'invalid_data');
    expect(state()).toEqual(before);

    // A delete that arrives before its create wins: for a followed author's post...
    expect((await bob.api('POST', '/api/following', { as: 'bob', body: { address: alice.address('alice') } })).status).toBeLessThan(300);
    const post = { id: `early-delete-${crypto.randomUUID()}`, text: 'never shown', createdAt: new Date().toISOString() };
    expect((await send(sign(from('alice'), 'post.delete', { post: { id: post.id } }, alice.siteKeyOf('alice')))).status).toBe(202);
    expect((await send(sign(from('alice'), 'post.create', { post }, alice.siteKeyOf('alice')))).status).toBe(202);
    expect(bob.count('select count(*) n from remote_posts where id = ?', post.id)).toBe(0);
    // ...and for a comment.
    const comment = commentData('never shown either');
    expect((await send(sign(from('alice'), 'comment.delete', { post: { id: postId }, comment: { id: comment.comment.id } }, alice.siteKeyOf('alice')))).status).toBe(202);
    expect((await send(sign(from('alice'), 'comment.create', comment, alice.siteKeyOf('alice')))).status).toBe(202);
    expect(bob.count('select count(*) n from comments where id = ?', comment.comment.id)).toBe(0);
  });

  it('8. one peer holds at most one link each way', async () => {
    const links = [];
    for (let i = 0; i < 4; i++) {
      const link = await dialLink(alice, bob);
      await waitFor('ready', () => link.frames.find((f) => f.t === 'ready'));
      links.push(link);
    }
    // Each newer inbound link replaced the one before it.
    await waitFor('older links closed', () => links.slice(0, 3).every((l) => l.ws.readyState === WebSocket.CLOSED));
    expect(links[3]!.ws.readyState).toBe(WebSocket.OPEN);
    const good = sign(from('alice'), 'like.create', { post: { id: postId } }, alice.siteKeyOf('alice'));
    expect(await sendOverLink(links[3]!, good.id, JSON.stringify({ t: 'env', env: good }))).toMatchObject({ ok: true });
    links[3]!.ws.close();
  });
});
