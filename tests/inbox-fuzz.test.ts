import crypto from 'node:crypto';
import { createEnvelope, nobleSigner, parseAddress, type Envelope } from '@hearth/protocol';
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialLink } from './helpers/link-client.js';
import { SiteProcess, waitFor } from './helpers/sites.js';

/**
 * Random and mutated envelopes thrown at a real site's inbox, over HTTP and over a link: the
 * answer is never a 5xx (a failure of ours, which a sender would retry for days), and an
 * envelope that is refused leaves no row anywhere.
 */
describe('inbox under random and mutated envelopes', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;
  let postId: string;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([SiteProcess.create(['alice']), SiteProcess.create(['bob'])]);
    postId = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'fuzz me' } })).body.id;
    await bob.api('POST', '/api/following', { as: 'bob', body: { address: alice.address('alice') } });
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  // Each check of the row counts is a query from the test; through psql (the PostgreSQL pass) it
  // takes tens of ms, twice per run.
  const FUZZ_TIMEOUT_MS = 180_000;
  const rows = () =>
    bob.count(`select (select count(*) from comments) + (select count(*) from likes) + (select count(*) from followers)
      + (select count(*) from remote_posts) + (select count(*) from dm_messages) + (select count(*) from notifications)
      + (select count(*) from inbox_seen) + (select count(*) from comment_tombstones) + (select count(*) from remote_post_tombstones) n`);

  /** A valid, signed envelope of one of a few types: the seed every mutation starts from. */
  const seed = (kind: number): Envelope => {
    const now = new Date().toISOString();
    const common = { from: parseAddress(alice.address('alice')), to: parseAddress(bob.address('bob')) };
    const key = nobleSigner(alice.siteKeyOf('alice'));
    switch (kind % 4) {
      case 0:
        return createEnvelope({ ...common, type: 'comment.create', data: { post: { id: postId }, comment: { id: crypto.randomUUID(), text: 'a comment', createdAt: now } } }, key);
      case 1:
        return createEnvelope({ ...common, type: 'post.create', data: { post: { id: crypto.randomUUID(), text: 'a post', createdAt: now } } }, key);
      case 2:
        return createEnvelope({ ...common, type: 'like.create', data: { post: { id: postId } } }, key);
      default:
        return createEnvelope({ ...common, type: 'follow', data: {} }, key);
    }
  };

  // Paths a mutation may touch. The sender's host and port stay as they are: a random host name
  // would send this test's lookups to the machine's resolver.
  const paths = ['v', 'id', 'type', 'from.username', 'to', 'to.host', 'to.port', 'to.username', 'ts', 'data', 'data.post', 'data.post.id', 'data.comment', 'data.comment.text', 'data.comment.createdAt', 'data.post.text', 'data.post.createdAt', 'sig', 'extra'];
  const setPath = (obj: any, path: string, value: unknown, remove: boolean) => {
    const keys = path.split('.');
    let at = obj;
    for (const k of keys.slice(0, -1)) {
      if (at === null || typeof at !== 'object' || !(k in at)) return obj;
      at = at[k];
    }
    if (at === null || typeof at !== 'object') return obj;
    if (remove) delete at[keys[keys.length - 1]!];
    else at[keys[keys.length - 1]!] = value;
    return obj;
  };

  const mutated = fc.oneof(
    // Any JSON at all.
    fc.jsonValue({ maxDepth: 4 }).map((v) => () => JSON.stringify(v)),
    // One member replaced by any JSON value, or removed.
    fc.tuple(fc.nat(), fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 }), fc.boolean()).map(([kind, path, value, remove]) => () => JSON.stringify(setPath(seed(kind), path, value, remove))),
    // Characters spliced into the text after the addresses (strings with lone surrogates and
    // control characters included), or a repeated key.
    fc.tuple(fc.nat(), fc.nat(), fc.nat({ max: 8 }), fc.string({ unit: 'binary', maxLength: 6 })).map(([kind, at, cut, insert]) => () => {
      const text = JSON.stringify(seed(kind));
      const start = text.indexOf('"ts"');
      const offset = start + (at % (text.length - start));
      return text.slice(0, offset) + insert + text.slice(offset + cut);
    }),
    fc.nat().map((kind) => () => JSON.stringify(seed(kind)).replace('"type":', '"type":"follow","type":')),
    // JSON escapes inside a string: lone surrogates, NUL, a pair split by other text.
    fc.tuple(fc.nat(), fc.constantFrom('\\ud800', '\\udfff', '\\u0000', '\\ud83d x \\ude00', '\\ud83d\\ude00')).map(([kind, escape]) => () =>
      JSON.stringify(seed(kind)).replace(/"(a comment|a post|[A-Za-z0-9_-]{20,})"/, `"$1${escape}"`),
    ),
  );

  it('over HTTP: never a 5xx, and a refused envelope stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(mutated, async (make) => {
        const before = rows();
        const res = await bob.api('POST', '/federation/inbox', { raw: make() });
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) {
          expect(typeof res.body?.error?.code).toBe('string');
          expect(rows()).toBe(before);
        }
      }),
      { numRuns: 300 },
    );
    expect(bob.log).not.toMatch(/"level":50/);
  }, FUZZ_TIMEOUT_MS);

  it('over a link: never an internal error, and a refused envelope stores nothing', async () => {
    let link = await dialLink(alice, bob);
    await waitFor('ready', () => link.frames.find((f) => f.t === 'ready'));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(mutated, async (make) => {
        if (link.ws.readyState !== WebSocket.OPEN) {
          link = await dialLink(alice, bob);
          await waitFor('ready', () => link.frames.find((f) => f.t === 'ready'));
        }
        const before = rows();
        const text = make();
        const id = `fuzz-${n++}`;
        // The frame names the ack id even when the envelope inside has none or a broken one.
        let env: unknown;
        try {
          env = JSON.parse(text);
        } catch {
          env = text;
        }
        const frameEnv = env && typeof env === 'object' && !Array.isArray(env) ? { ...env, id: (env as { id?: unknown }).id ?? id } : env;
        const frameText = JSON.stringify({ t: 'env', env: frameEnv });
        const envId = (frameEnv as { id?: unknown } | null)?.id;
        const expectedId = typeof envId === 'string' ? envId.slice(0, 64) : '';
        link.ws.send(frameText);
        const ack = await waitFor('an ack or a close', () => link.frames.find((f) => f.t === 'ack' && f.id === expectedId) ?? (link.ws.readyState !== WebSocket.OPEN ? { closed: true } : undefined));
        link.frames.length = 0;
        if ('closed' in ack) return;
        expect(ack.code).not.toBe('internal');
        if (!ack.ok) expect(rows()).toBe(before);
      }),
      { numRuns: 200 },
    );
    link.ws.close();
    expect(bob.log).not.toMatch(/"level":50/);
  }, FUZZ_TIMEOUT_MS);
});
