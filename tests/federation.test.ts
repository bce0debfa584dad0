import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess, waitFor } from './helpers/sites.js';

/** Two real sites, each its own `hearth start` process on a loopback port. */
describe('two sites talk', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([SiteProcess.create(['alice']), SiteProcess.create(['bob'])]);
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  const feedTexts = async () => ((await alice.api('GET', '/api/feed', { as: 'alice' })).body.items as Array<{ text: string }>).map((p) => p.text);

  it('profile: edit, validation, and the public document', async () => {
    const res = await alice.api('PATCH', '/api/me/profile', { as: 'alice', body: { displayName: 'Alice L.', bio: 'Tea and riddles', avatarUrl: 'https://img.example/a.png' } });
    expect(res.status).toBe(200);
    const profile = (await alice.api('GET', '/api/users/alice')).body;
    expect(profile).toMatchObject({ displayName: 'Alice L.', bio: 'Tea and riddles', avatarUrl: 'https://img.example/a.png', address: alice.address('alice') });
    expect((await alice.api('PATCH', '/api/me/profile', { as: 'alice', body: { avatarUrl: 'javascript:alert(1)' } })).status).toBe(400);
    expect((await alice.api('PATCH', '/api/me/profile', { as: 'alice', body: { bio: 'x'.repeat(1001) } })).status).toBe(400);
    expect((await alice.api('GET', '/api/users/alice')).body.avatarUrl).toBe('https://img.example/a.png');
    expect((await alice.api('GET', '/api/users/nobody')).status).toBe(404);
  });

  it('discovery: WebFinger and the Hearth server document', async () => {
    const wf = await bob.api('GET', `/.well-known/webfinger?resource=acct:${bob.address('bob')}`);
    expect(wf.status).toBe(200);
    expect(wf.body.links.find((l: { rel: string }) => l.rel === 'self').href).toBe(`${bob.url}/api/users/bob`);
    const doc = await bob.api('GET', '/.well-known/hearth');
    expect(doc.body.serverKey).toBe(bob.siteConfig().serverKey.publicKey);
    expect((await bob.api('GET', '/.well-known/webfinger?resource=acct:nobody@127.0.0.1:1')).status).toBe(404);
  });

  it('follow, then a new post reaches the follower\'s feed within 1 s while linked', async () => {
    const before = await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'written before the follow' } });
    expect(before.status).toBe(201);
    const follow = await alice.api('POST', '/api/following', { as: 'alice', body: { address: bob.address('bob') } });
    expect(follow.status).toBe(201);
    // The follow is pulled with GET: the older post arrives without any push.
    await waitFor('the older post to be pulled', async () => (await feedTexts()).includes('written before the follow'));
    await waitFor('bob to see alice as follower', async () => {
      const res = await bob.api('GET', '/api/followers', { as: 'bob' });
      return res.body.items.some((f: { address: string }) => f.address === alice.address('alice'));
    });

    // The sites keep a link: the push below travels over it, not by HTTP POST.
    await waitFor('a link between the sites', async () => {
      const status = await bob.api('GET', '/api/status', { as: 'bob' });
      return status.body.links.some((l: { peer: string }) => l.peer === alice.host);
    });
    const posted = Date.now();
    const post = await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'pushed while linked' } });
    expect(post.status).toBe(201);
    await waitFor('the push', async () => (await feedTexts()).includes('pushed while linked'), 1000, 10);
    expect(Date.now() - posted).toBeLessThan(1000);
    const item = (await alice.api('GET', '/api/feed', { as: 'alice' })).body.items[0];
    expect(item).toMatchObject({ id: post.body.id, author: bob.address('bob'), text: 'pushed while linked' });
  });

  it('a post made while the follower was down reaches it after restart', async () => {
    await alice.stop('SIGKILL');
    const post = await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'posted while alice was down' } });
    expect(post.status).toBe(201);
    await alice.start();
    await waitFor('the missed post', async () => (await feedTexts()).includes('posted while alice was down'), 15_000);
  });

  it('when the author\'s site restarts, the sites link again and pushes flow again', async () => {
    await bob.stop('SIGKILL');
    await bob.start();
    // Either side may dial: alice redials with backoff, bob dials his followers' sites at start.
    await waitFor('a link again', async () => {
      const status = await alice.api('GET', '/api/status', { as: 'alice' });
      return status.body.links.some((l: { peer: string }) => l.peer === bob.host);
    }, 30_000);
    const post = await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'after my restart' } });
    expect(post.status).toBe(201);
    await waitFor('the push after the restart', async () => (await feedTexts()).includes('after my restart'), 1000, 10);
  });

  it('comments travel to the author\'s site; the author deletes them and blocks the commenter', async () => {
    const post = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'comment on me' } })).body;
    const sent = await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: post.id }, text: 'first!' } });
    expect(sent.status).toBe(202);
    const comments = async () => (await bob.api('GET', `/api/users/bob/posts/${post.id}`)).body.comments as Array<{ id: string; author: string; text: string }>;
    await waitFor('the comment', async () => (await comments()).length === 1);
    expect((await comments())[0]).toMatchObject({ id: sent.body.id, author: alice.address('alice'), text: 'first!' });
    const notes = await bob.api('GET', '/api/notifications', { as: 'bob' });
    expect(notes.body.items.some((n: { kind: string; data: { comment?: string } }) => n.kind === 'comment' && n.data.comment === sent.body.id)).toBe(true);

    // Only the post's author moderates.
    expect((await bob.api('DELETE', `/api/posts/${post.id}/comments/${sent.body.id}`, { as: 'bob' })).status).toBe(204);
    expect(await comments()).toEqual([]);

    // Both follow each other before the block.
    expect((await bob.api('POST', '/api/following', { as: 'bob', body: { address: alice.address('alice') } })).status).toBeLessThan(300);
    await waitFor('bob as alice\'s follower', async () => (await alice.api('GET', '/api/followers', { as: 'alice' })).body.items.length === 1);
    const follows = async () => ({
      aliceFollowsBob: (await alice.api('GET', '/api/following', { as: 'alice' })).body.items.some((i: { address: string }) => i.address === bob.address('bob')),
      bobHasAlice: (await bob.api('GET', '/api/followers', { as: 'bob' })).body.items.length === 1,
      bobFollowsAlice: (await bob.api('GET', '/api/following', { as: 'bob' })).body.items.some((i: { address: string }) => i.address === alice.address('alice')),
      aliceHasBob: (await alice.api('GET', '/api/followers', { as: 'alice' })).body.items.length === 1,
    });
    expect(await follows()).toEqual({ aliceFollowsBob: true, bobHasAlice: true, bobFollowsAlice: true, aliceHasBob: true });

    expect((await bob.api('POST', '/api/blocks', { as: 'bob', body: { address: alice.address('alice') } })).status).toBe(201);
    // The follow ends both ways, and both sites agree on it.
    await waitFor('both sites to agree that nobody follows', async () => JSON.stringify(await follows()) === JSON.stringify({ aliceFollowsBob: false, bobHasAlice: false, bobFollowsAlice: false, aliceHasBob: false }));
    const again = await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: post.id }, text: 'let me back in' } });
    expect(again.status).toBe(202);
    // The block is silent: alice's site sees a normal acceptance, nothing fails, nothing reaches bob.
    await waitFor('the comment to leave alice\'s outbox', () => alice.count('select count(*) n from outbox') === 0);
    const aliceNotes = (await alice.api('GET', '/api/notifications', { as: 'alice' })).body.items as Array<{ kind: string }>;
    expect(aliceNotes.some((n) => n.kind === 'delivery_failed')).toBe(false);
    expect(await comments()).toEqual([]);
    expect((await bob.api('DELETE', `/api/blocks/${encodeURIComponent(alice.address('alice'))}`, { as: 'bob' })).status).toBe(204);
    // Unblocking restores no follow; following again does.
    expect((await follows()).bobHasAlice).toBe(false);
    expect((await alice.api('POST', '/api/following', { as: 'alice', body: { address: bob.address('bob') } })).status).toBe(201);
    await waitFor('alice to follow again', async () => (await bob.api('GET', '/api/followers', { as: 'bob' })).body.items.length === 1);
  });

  it('likes arrive once, however often they are sent', async () => {
    const post = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'like me' } })).body;
    for (let i = 0; i < 3; i++) expect((await alice.api('POST', '/api/likes', { as: 'alice', body: { post: { author: bob.address('bob'), id: post.id } } })).status).toBe(202);
    await waitFor('the like', async () => (await bob.api('GET', `/api/users/bob/posts/${post.id}`)).body.likeCount === 1);
    await waitFor('alice\'s outbox to drain', () => alice.count("select count(*) n from outbox where status = 'pending'") === 0);
    expect((await bob.api('GET', `/api/users/bob/posts/${post.id}`)).body.likes).toEqual([alice.address('alice')]);
  });

  it('deleting a post removes it from the follower\'s feed', async () => {
    const post = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'short-lived' } })).body;
    await waitFor('the post', async () => (await feedTexts()).includes('short-lived'));
    expect((await bob.api('DELETE', `/api/posts/${post.id}`, { as: 'bob' })).status).toBe(204);
    await waitFor('the deletion', async () => !(await feedTexts()).includes('short-lived'));
  });

  it('the feed pages with a cursor, newest first, without gaps or repeats', async () => {
    for (let i = 0; i < 25; i++) await bob.api('POST', '/api/posts', { as: 'bob', body: { text: `page test ${i}` } });
    await waitFor('all 25 in the feed', async () => (await alice.api('GET', '/api/feed?limit=100', { as: 'alice' })).body.items.filter((p: { text: string }) => p.text.startsWith('page test')).length === 25);
    const seen: string[] = [];
    let before = '';
    for (let page = 0; page < 20; page++) {
      const res = await alice.api('GET', `/api/feed?limit=7${before ? `&before=${encodeURIComponent(before)}` : ''}`, { as: 'alice' });
      seen.push(...res.body.items.map((p: { text: string }) => p.text));
      if (!res.body.next) break;
      before = res.body.next;
    }
    const tests = seen.filter((t) => t.startsWith('page test'));
    expect(tests).toEqual(Array.from({ length: 25 }, (_, i) => `page test ${24 - i}`));
    expect(new Set(seen).size).toBe(seen.length);
    expect((await alice.api('GET', '/api/feed?before=garbage', { as: 'alice' })).body.error.code).toBe('invalid_cursor');
  });

  it('unfollow stops the feed and the follower list', async () => {
    expect((await alice.api('DELETE', `/api/following/${encodeURIComponent(bob.address('bob'))}`, { as: 'alice' })).status).toBe(204);
    await waitFor('bob to drop alice', async () => (await bob.api('GET', '/api/followers', { as: 'bob' })).body.items.length === 0);
    expect(await feedTexts()).toEqual([]);
  });
});
