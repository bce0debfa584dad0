import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  createEnvelope,
  fromBase64url,
  generateSigningKeyPair,
  nobleSigner,
  parseAddress,
  toBase64url,
  type Envelope,
} from '@hearth/protocol';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess, waitFor } from './helpers/sites.js';
import { dialLink } from './helpers/link-client.js';

/**
 * Every kind of bad input gets a clear error ({"error":{"code","message"}}) and changes nothing.
 * alice's site is the sender, bob's site (with a second user, dave) the receiver.
 */
describe('bad input is refused and changes nothing', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;
  let postId: string;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([SiteProcess.create(['alice', 'eve']), SiteProcess.create(['bob', 'dave'])]);
    postId = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'a post to comment on' } })).body.id;
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  const comment = (text: string, overrides: Partial<Envelope> = {}, key = alice.siteKeyOf('alice')): Envelope => {
    const env = createEnvelope(
      {
        type: 'comment.create',
        from: parseAddress(alice.address('alice')),
        to: parseAddress(bob.address('bob')),
        data: { post: { id: postId }, comment: { id: crypto.randomUUID(), text, createdAt: new Date().toISOString() } },
      },
      nobleSigner(key),
    );
    return { ...env, ...overrides };
  };
  const handshake = (key: { publicKey: string; secretKey: string }) => dialLink(alice, bob, key);
  const send = (body: unknown) => bob.api('POST', '/federation/inbox', { raw: typeof body === 'string' ? body : JSON.stringify(body) });
  const state = () => ({
    comments: bob.count('select count(*) n from comments'),
    seen: bob.count('select count(*) n from inbox_seen'),
    posts: bob.count('select count(*) n from posts'),
    notifications: bob.count('select count(*) n from notifications'),
  });
  const expectError = (res: { status: number; body: any }, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    expect(res.body.error.message.length).toBeGreaterThan(5);
  };

  it('accepts a good envelope (the baseline the other cases break)', async () => {
    const before = state();
    const res = await send(comment('hello'));
    expect(res.status).toBe(202);
    expect(state().comments).toBe(before.comments + 1);
  });

  it('forged from: signed with a key that is not the named sender\'s', async () => {
    const before = state();
    // eve's key has never been fetched here: bob fetches it for this envelope, so a signature that
    // fails against it fails for good.
    const forged = comment('I am eve, honest', { from: parseAddress(alice.address('eve')) });
    expectError(await send({ ...forged, sig: createEnvelope({ ...forged, id: forged.id, ts: forged.ts }, nobleSigner(generateSigningKeyPair())).sig }), 401, 'bad_signature');
    expect(state()).toEqual(before);
  });

  it('forged from over a link: the envelope names another site than the link\'s peer', async () => {
    const before = state();
    // Open a real link to bob's site as alice's site, proving alice's server key...
    const { ws, frames } = await handshake(alice.siteConfig().serverKey);
    await waitFor('ready', () => frames.find((f) => f.t === 'ready'));
    // ...then send an envelope that claims to come from a third site.
    const env = comment('from elsewhere', { from: { host: '127.0.0.1', port: 1, username: 'mallory' } });
    ws.send(JSON.stringify({ t: 'env', env }));
    const ack = await waitFor('ack', () => frames.find((f) => f.t === 'ack'));
    expect(ack).toMatchObject({ ok: false, code: 'forged_from' });
    ws.close();
    expect(state()).toEqual(before);
  });

  it('a link handshake with a wrong server key is refused', async () => {
    const { ws, frames } = await handshake(generateSigningKeyPair());
    const error = await waitFor('error', () => frames.find((f) => f.t === 'error'));
    expect(error.code).toBe('bad_signature');
    await waitFor('close', () => ws.readyState === WebSocket.CLOSED);
  });

  it('bad signature: one changed character in the data', async () => {
    const before = state();
    const env = comment('original text');
    const tampered = { ...env, data: { ...env.data, comment: { ...(env.data as any).comment, text: 'Original text' } } };
    // bob fetches alice's key again in case it was rotated, then refuses for good.
    expectError(await send(tampered), 401, 'bad_signature');
    // That was the second fetch of alice's key this minute (the first was for the baseline), the
    // most bob makes: now the answer is "retry later" (key_unknown), never a final refusal
    // that a key rotation would turn into a lost message.
    const flipped = fromBase64url(env.sig);
    flipped[10] ^= 1;
    const res = await send({ ...env, sig: toBase64url(flipped) });
    expectError(res, 401, 'key_unknown');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(state()).toEqual(before);
  });

  it('replayed id: the second copy is refused, the first counted once', async () => {
    const env = comment('only once');
    expect((await send(env)).status).toBe(202);
    const before = state();
    expectError(await send(env), 409, 'duplicate_envelope');
    expect(state()).toEqual(before);
  });

  it('oversized envelope', async () => {
    const before = state();
    const env = comment('x');
    const huge = JSON.stringify({ ...env, data: { ...env.data, pad: 'x'.repeat(70 * 1024) } });
    expectError(await send(huge), 413, 'too_large');
    expect(state()).toEqual(before);
  });

  it('deeply nested JSON, to the inbox and to the API', async () => {
    const before = state();
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const res = await send(deep);
    expect(res.status).toBe(413); // 200 KB: over the envelope size limit before any parsing
    const nested = `{"v":1,"data":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`;
    expectError(await send(nested), 400, 'too_deep');
    expectError(await bob.api('POST', '/api/posts', { as: 'bob', raw: `{"text":${'['.repeat(5000)}${']'.repeat(5000)}}` }), 400, 'too_deep');
    expect(state()).toEqual(before);
  });

  it('stale or future-dated envelopes', async () => {
    const before = state();
    const at = (ms: number) => createEnvelope(
      { type: 'comment.create', from: parseAddress(alice.address('alice')), to: parseAddress(bob.address('bob')), ts: new Date(ms).toISOString(), data: { post: { id: postId }, comment: { id: crypto.randomUUID(), text: 'time travel', createdAt: new Date(ms).toISOString() } } },
      nobleSigner(alice.siteKeyOf('alice')),
    );
    expectError(await send(at(Date.now() + 60 * 60_000)), 400, 'clock_skew');
    expectError(await send(at(Date.now() - 15 * 24 * 60 * 60_000)), 400, 'expired');
    expect(state()).toEqual(before);
  });

  it('unknown type', async () => {
    const before = state();
    const env = comment('x');
    expectError(await send({ ...env, type: 'post.explode' }), 400, 'unknown_type');
    expect(state()).toEqual(before);
  });

  it('malformed envelope and malformed addresses', async () => {
    const before = state();
    expectError(await send('{"v":1'), 400, 'invalid_json');
    expectError(await send({ hello: 'world' }), 400, 'invalid_envelope');
    const env = comment('x');
    expectError(await send({ ...env, from: { ...env.from, username: 'Alice!' } }), 400, 'invalid_address');
    expectError(await send({ ...env, to: { ...env.to, host: 'bad_host..x' } }), 400, 'invalid_address');
    expectError(await bob.api('POST', '/api/following', { as: 'bob', body: { address: 'not an address' } }), 400, 'invalid_address');
    expectError(await bob.api('POST', '/api/following', { as: 'bob', body: { address: 'bob@exa mple.com' } }), 400, 'invalid_address');
    expect(state()).toEqual(before);
    expect((await bob.api('GET', '/api/following', { as: 'bob' })).body.items).toEqual([]);
  });

  it('envelope for another site or an unknown user', async () => {
    const before = state();
    const env = createEnvelope(
      { type: 'follow', from: parseAddress(alice.address('alice')), to: parseAddress('bob@elsewhere.example'), data: {} },
      nobleSigner(alice.siteKeyOf('alice')),
    );
    expectError(await send(env), 404, 'not_local');
    const env2 = createEnvelope(
      { type: 'follow', from: parseAddress(alice.address('alice')), to: parseAddress(`zed@${bob.host}`), data: {} },
      nobleSigner(alice.siteKeyOf('alice')),
    );
    expectError(await send(env2), 404, 'unknown_user');
    expect(state()).toEqual(before);
  });

  it('oversized post', async () => {
    const before = state();
    expectError(await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'x'.repeat(5001) } }), 400, 'invalid_request');
    expectError(await bob.api('POST', '/api/posts', { as: 'bob', body: { text: '   ' } }), 400, 'invalid_request');
    expect((await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'x'.repeat(5000) } })).status).toBe(201);
    expect(state().posts).toBe(before.posts + 1);
  });

  it('wrong password: refused, then rate-limited (even for the right password)', async () => {
    const sessions = bob.count('select count(*) n from sessions');
    for (let i = 0; i < 5; i++) {
      expectError(await bob.api('POST', '/api/auth/login', { body: { username: 'dave', password: `guess-${i}` } }), 401, 'invalid_credentials');
    }
    const limited = await bob.api('POST', '/api/auth/login', { body: { username: 'dave', password: SiteProcess.password('dave') } });
    expectError(limited, 429, 'rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(bob.count('select count(*) n from sessions')).toBe(sessions);
  });

  it('another user\'s token on my routes', async () => {
    // Two users sharing one backend: carol must not be able to act on bob's things.
    const carol = await SiteProcess.create(['bob', 'carol']);
    try {
      const post = (await carol.api('POST', '/api/posts', { as: 'bob', body: { text: 'bob\'s own post' } })).body;
      await carol.api('POST', '/api/comments', { as: 'carol', body: { post: { author: carol.address('bob'), id: post.id }, text: 'hi bob' } });
      const commentId = await waitFor('the local comment', async () => (await carol.api('GET', `/api/users/bob/posts/${post.id}`)).body.comments[0]?.id);
      expectError(await carol.api('DELETE', `/api/posts/${post.id}`, { as: 'carol' }), 403, 'forbidden');
      expectError(await carol.api('DELETE', `/api/posts/${post.id}/comments/${commentId}`, { as: 'carol' }), 403, 'forbidden');
      expectError(await carol.api('GET', '/api/dms'), 401, 'unauthorized');
      expectError(await carol.api('GET', '/api/feed', { headers: { authorization: 'Bearer not-a-real-token-at-all-x' } }), 401, 'unauthorized');
      const detail = (await carol.api('GET', `/api/users/bob/posts/${post.id}`)).body;
      expect(detail.text).toBe('bob\'s own post');
      expect(detail.comments).toHaveLength(1);
      // carol's token only ever shows carol's own data.
      expect((await carol.api('GET', '/api/me', { as: 'carol' })).body.username).toBe('carol');
    } finally {
      await carol.destroy();
    }
  });

  it('a production site refuses to fetch loopback or private addresses (SSRF)', async () => {
    const prod = await SiteProcess.create(['erin'], { production: true });
    try {
      expect((await prod.api('GET', '/.well-known/hearth')).body.endpoints.inbox).toBe('https://hearth.test/federation/inbox');
      for (const address of [alice.address('alice'), 'x@localhost:80', 'x@169.254.169.254', 'x@10.0.0.1:8080']) {
        expectError(await prod.api('POST', '/api/following', { as: 'erin', body: { address } }), 400, 'forbidden_address');
      }
      // An envelope naming a loopback sender cannot make the site fetch that sender's key.
      const env = createEnvelope({ type: 'follow', from: parseAddress(alice.address('alice')), to: parseAddress(prod.address('erin')), data: {} }, nobleSigner(alice.siteKeyOf('alice')));
      expectError(await prod.api('POST', '/federation/inbox', { raw: JSON.stringify(env) }), 400, 'forbidden_address');
      expect(prod.count('select count(*) n from followers') + prod.count('select count(*) n from following')).toBe(0);
    } finally {
      await prod.destroy();
    }
  });

  it('a production site rate-limits each client, also behind its local reverse proxy', async () => {
    const prod = await SiteProcess.create(['erin'], { production: true, start: false });
    try {
      const file = `${prod.dataDir}/hearth.json`;
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), requestsPerMinute: 5 }));
      await prod.start();
      const asClient = (ip: string) => prod.api('GET', '/api/users/erin', { headers: { 'x-forwarded-for': ip } });
      for (let i = 0; i < 5; i++) expect((await asClient('203.0.113.7')).status).toBe(200);
      const limited = await asClient('203.0.113.7');
      expectError(limited, 429, 'rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another client behind the same proxy has its own allowance.
      expect((await asClient('198.51.100.9')).status).toBe(200);
    } finally {
      await prod.destroy();
    }
  });
});
