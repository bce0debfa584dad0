import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess, waitFor } from './helpers/sites.js';

const N = 1000;

/**
 * kill -9 while 1,000 envelopes are in flight: each is delivered exactly once after restart.
 * "In flight" is made certain, not left to timing: the receiver is frozen with SIGSTOP, so the
 * sender has written the envelopes to the link and is waiting for acks when it is killed.
 * Each envelope is a comment, and each comment makes one notification: a duplicate delivery
 * would show as an extra notification even where the comment id deduplicates the row.
 */
describe('crash safety', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;
  let postId: string;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([SiteProcess.create(['alice']), SiteProcess.create(['bob'])]);
    postId = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'comment here' } })).body.id;
    // Warm the link: one comment goes through first.
    await sendComments(0, 1);
    await waitFor('the first comment, acknowledged', () => bob.count('select count(*) n from comments') === 1 && pendingAtAlice() === 0);
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  async function sendComments(from: number, count: number): Promise<void> {
    const token = await alice.token('alice');
    let next = from;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < from + count; i = next++) {
          const res = await fetch(`${alice.url}/api/comments`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ post: { author: bob.address('bob'), id: postId }, text: `comment ${i}` }),
          });
          if (res.status !== 202) throw new Error(`comment ${i}: ${res.status}`);
        }
      }),
    );
  }

  const comments = () => bob.count("select count(*) n from comments where text like 'comment %'");
  const distinctTexts = () => bob.count("select count(distinct text) n from comments where text like 'comment %'");
  const commentNotifications = () => bob.count("select count(*) n from notifications where kind = 'comment'");
  const pendingAtAlice = () => alice.count("select count(*) n from outbox where status = 'pending'");

  it('the sender killed with 1,000 unacknowledged envelopes delivers each exactly once after restart', async () => {
    bob.signal('SIGSTOP');
    let queued = 0;
    try {
      await sendComments(1, N);
      queued = pendingAtAlice();
    } finally {
      await alice.stop('SIGKILL');
      bob.signal('SIGCONT');
      await alice.start();
    }
    expect(queued).toBe(N);
    await waitFor('every comment', () => comments() === 1 + N && pendingAtAlice() === 0, 30_000);
    expect(distinctTexts()).toBe(1 + N);
    expect(commentNotifications()).toBe(1 + N);
  });

  it('the receiver killed mid-delivery loses nothing and duplicates nothing', async () => {
    const base = comments();
    bob.signal('SIGSTOP');
    await sendComments(1 + N, N);
    bob.signal('SIGCONT');
    // Kill it as soon as it has begun to store the burst.
    await waitFor('the burst to start landing', () => comments() > base, 10_000, 1);
    await bob.stop('SIGKILL');
    const landedBeforeKill = comments() - base;
    await bob.start();
    await waitFor('every comment of the burst', () => comments() === base + N && pendingAtAlice() === 0, 60_000);
    expect(distinctTexts()).toBe(base + N);
    expect(commentNotifications()).toBe(base + N);
    expect(landedBeforeKill).toBeGreaterThan(0);
  });
});

/**
 * A post to 2,000 followers (on 20 sites that do not answer, so every envelope stays in the
 * outbox to be counted): one per site goes with the post, the rest in steps after it. Killed
 * with -9 in the middle, the fan-out goes on at the next start from its last committed step:
 * every follower has exactly one envelope of the post.
 */
describe('fan-out to many followers', () => {
  let alice: SiteProcess;
  const FOLLOWERS = 2000;
  beforeAll(async () => {
    alice = await SiteProcess.create(['alice']);
    alice.execute(
      `with recursive n(i) as (select 0 union all select i + 1 from n where i < ${FOLLOWERS - 1})
       insert into followers (username, follower, created_at) select 'alice', 'f' || (i % 100) || '@127.0.0.1:' || (1 + i / 100), 0 from n`,
    );
  });
  afterAll(async () => alice?.destroy());

  /** How many envelopes of this post each follower has in the outbox. */
  const envelopesPerFollower = (postId: string, type: string) => {
    const counts = new Map<string, number>();
    for (const { body } of alice.query<{ body: string }>('select body from outbox_bodies')) {
      const env = JSON.parse(body) as { type: string; to: { username: string; host: string; port: number }; data: { post: { id: string } } };
      if (env.type !== type || env.data.post.id !== postId) continue;
      const to = `${env.to.username}@${env.to.host}:${env.to.port}`;
      counts.set(to, (counts.get(to) ?? 0) + 1);
    }
    return counts;
  };

  it('killed with -9 mid-way, it resumes where it stopped: one envelope each, none lost, none twice', async () => {
    const post = await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'to two thousand people' } });
    expect(post.status).toBe(201);
    // The post answered with one envelope per site queued (20); the other 1,980 follow in steps.
    await alice.stop('SIGKILL');
    const atKill = envelopesPerFollower(post.body.id, 'post.create').size;
    expect(atKill).toBeGreaterThanOrEqual(20);
    await alice.start();
    await waitFor('the whole fan-out', () => alice.count('select count(*) n from fanout_jobs') === 0, 60_000);
    const counts = envelopesPerFollower(post.body.id, 'post.create');
    expect(counts.size).toBe(FOLLOWERS);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('a fan-out a crash left half done goes on after its last step only', async () => {
    const post = await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'halfway' } });
    await waitFor('the fan-out of the second post', () => alice.count('select count(*) n from fanout_jobs') === 0, 60_000);
    // A job as a crash leaves it: an edit's fan-out stepped up to "f49@127.0.0.1:9", with two
    // followers served with the edit itself.
    await alice.stop('SIGKILL');
    const data = JSON.stringify({ post: { id: post.body.id, text: 'halfway, edited', createdAt: post.body.createdAt, editedAt: new Date().toISOString() } });
    alice.execute(
      'insert into fanout_jobs (id, username, type, data, skip, after, created_at) values (?, ?, ?, ?, ?, ?, ?)',
      'job-1', 'alice', 'post.update', data, JSON.stringify(['f50@127.0.0.1:9', 'f7@127.0.0.1:3']), 'f49@127.0.0.1:9', 0,
    );
    await alice.start();
    await waitFor('the resumed fan-out', () => alice.count('select count(*) n from fanout_jobs') === 0, 60_000);
    const counts = envelopesPerFollower(post.body.id, 'post.update');
    const expected = alice.query<{ follower: string }>("select follower from followers where username = 'alice' and follower > 'f49@127.0.0.1:9'").map((r) => r.follower).filter((f) => f !== 'f50@127.0.0.1:9' && f !== 'f7@127.0.0.1:3');
    expect([...counts.keys()].sort()).toEqual(expected.sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});
