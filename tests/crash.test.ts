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
