import crypto from 'node:crypto';
import { createEnvelope, nobleSigner, parseAddress } from '@hearth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from './helpers/fake-clock.js';
import { FakeSite } from './helpers/fake-site.js';
import { SiteProcess, waitFor } from './helpers/sites.js';

/**
 * Sites whose wall clocks are wrong or jump (Debian's libfaketime in the site process), issue 15:
 * nothing acknowledged is lost, nothing deleted comes back.
 */
describe('clocks that drift and jump', { timeout: 300_000 }, () => {
  const aliceClock = new FakeClock();
  const bobClock = new FakeClock();
  let alice: SiteProcess;
  let bob: SiteProcess;
  let fake: FakeSite;
  let postId: string;

  beforeAll(async () => {
    [alice, bob, fake] = await Promise.all([
      SiteProcess.create(['alice'], { env: aliceClock.env }),
      SiteProcess.create(['bob'], { env: bobClock.env }),
      FakeSite.start(),
    ]);
    postId = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'a post to comment on' } })).body.id;
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy(), fake?.close()]);
  });

  const comments = async () => ((await bob.api('GET', `/api/users/bob/posts/${postId}`)).body.comments ?? []) as Array<{ text: string }>;
  const comment = (text: string) => alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: postId }, text } });

  it('1. a sender whose clock is 20 minutes fast keeps its comment, says which clock is off, and delivers once the clocks agree', async () => {
    aliceClock.set('+20m');
    expect((await comment('from a fast clock')).status).toBe(202);
    const row = await waitFor('the refusal to be recorded', () => alice.query<{ status: string; last_error: string | null }>("select status, last_error from outbox where last_error like 'clock_skew%'")[0]);
    expect(row.status).toBe('pending');
    expect(row.last_error).toMatch(/this site's clock is about 20 minutes ahead of 127\.0\.0\.1:\d+'s/);
    const notes = (await alice.api('GET', '/api/notifications', { as: 'alice' })).body.items as Array<{ kind: string; data: any }>;
    expect(notes.find((n) => n.kind === 'clock_skew')?.data.aheadMs).toBeGreaterThan(19 * 60_000);
    expect(notes.some((n) => n.kind === 'delivery_failed')).toBe(false);
    // The clock is put right: the next retry dates the envelope again and it goes through.
    aliceClock.set('+0');
    // The next retry waits for the envelope's backoff and the site's breaker, both grown by the
    // refusals so far: on a loaded machine that may be 64 s each, so the wait allows two of those.
    await waitFor('the comment at bob', async () => (await comments()).some((c) => c.text === 'from a fast clock'), 140_000);
    expect(alice.count("select count(*) n from outbox where status = 'failed'")).toBe(0);
  });

  it('3. retries follow the site clock: a wall clock 2 hours back does not postpone them, 8 days ahead does not end them', async () => {
    await bob.stop('SIGKILL');
    expect((await comment('while bob is down, then time goes back')).status).toBe(202);
    // Attempts wait for the site's breaker (1 s, 2 s, 4 s... doubling up to an hour): on a loaded
    // machine it may have reached 64 s by the time a step begins, so each wait allows two of those.
    await waitFor('two failed attempts', () => alice.count('select max(attempts) n from outbox') >= 2, 140_000);
    aliceClock.set('-2h');
    expect((await comment('while bob is down, then time leaps ahead')).status).toBe(202);
    await waitFor('a failed attempt of the second', () => alice.count("select count(*) n from outbox where attempts >= 1 and status = 'pending'") >= 2, 140_000);
    const attemptsBefore = alice.count('select sum(attempts) n from outbox');
    aliceClock.set('+8d');
    // Still queued after attempts made past the leap (the old outbox gave up at "7 days"), and delivered when bob is back.
    await waitFor('attempts after the leap', () => alice.count('select sum(attempts) n from outbox') >= attemptsBefore + 2, 140_000);
    expect(alice.count("select count(*) n from outbox where status = 'failed'")).toBe(0);
    aliceClock.set('+0');
    await bob.start();
    await waitFor(
      'both comments at bob',
      async () => {
        const texts = (await comments()).map((c) => c.text);
        return texts.includes('while bob is down, then time goes back') && texts.includes('while bob is down, then time leaps ahead');
      },
      90_000,
    );
  }, 600_000);

  it('4. envelope ids outlive a 16-day excursion of the wall clock: a replayed like stays undone', async () => {
    const sign = (type: 'like.create' | 'like.delete') =>
      createEnvelope({ type, from: parseAddress(alice.address('alice')), to: parseAddress(bob.address('bob')), data: { post: { id: postId } } }, nobleSigner(alice.siteKeyOf('alice')));
    const like = sign('like.create');
    const send = (env: unknown) => bob.api('POST', '/federation/inbox', { raw: JSON.stringify(env) });
    expect((await send(like)).status).toBe(202);
    expect((await send(sign('like.delete'))).status).toBe(202);
    // bob's clock runs 16 days ahead across a restart (the daily prune runs at start), then is put right.
    await bob.stop();
    bobClock.set('+16d');
    await bob.start();
    await bob.stop();
    bobClock.set('+0');
    await bob.start();
    const replay = await send(like);
    expect(replay.status).toBe(409);
    expect(replay.body.error.code).toBe('duplicate_envelope');
    expect(bob.count('select count(*) n from likes where post_id = ?', postId)).toBe(0);
  });

  it('5. a follower pulls by the author site\'s sequence: a post made after the author\'s clock jumped back is not missed', async () => {
    // The author side, on a real site: a post made with the clock 2 hours back still comes after.
    const first = (await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'before the jump' } })).body;
    aliceClock.set('-2h');
    const second = (await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'after the jump' } })).body;
    aliceClock.set('+0');
    const firstSeq = (await alice.api('GET', '/api/users/alice/posts?limit=10')).body.items.find((p: any) => p.id === first.id).seq as number;
    const after = (await alice.api('GET', `/api/users/alice/posts?afterSeq=${firstSeq}`)).body.items as Array<{ id: string; seq: number }>;
    expect(after.map((p) => p.id)).toEqual([second.id]);
    expect(Date.parse((await alice.api('GET', `/api/users/alice/posts/${second.id}`)).body.createdAt)).toBeLessThan(Date.parse(first.createdAt));

    // The follower side: bob follows an author whose posts it can only pull.
    const now = Date.now();
    fake.profiles.set('ann', { username: 'ann', siteKey: alice.siteKeyOf('alice').publicKey, identityKey: null, devices: [] });
    fake.posts.set('ann', [{ id: 'p1', text: 'first', createdAt: new Date(now - 60_000).toISOString(), seq: 1 }]);
    expect((await bob.api('POST', '/api/following', { as: 'bob', body: { address: `ann@${fake.host}` } })).status).toBe(201);
    await waitFor('the first pull', () => bob.count("select count(*) n from remote_posts where id = 'p1'") === 1);
    fake.posts.get('ann')!.push({ id: 'p2', text: 'dated two hours back', createdAt: new Date(now - 2 * 60 * 60_000).toISOString(), seq: 2 });
    // Following again pulls again (from where the last pull ended).
    expect((await bob.api('POST', '/api/following', { as: 'bob', body: { address: `ann@${fake.host}` } })).status).toBe(200);
    await waitFor('the post made after the jump', () => bob.count("select count(*) n from remote_posts where id = 'p2'") === 1);
    expect(fake.requests.some((r) => r.includes('afterSeq=1'))).toBe(true);
    void crypto;
  });
});
