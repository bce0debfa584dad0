import { createEnvelope, nobleSigner, parseAddress, type Address, type EnvelopeType, type MessageData } from '@hearth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess, waitFor } from './helpers/sites.js';

/**
 * The social web over the API contract (issue 10), on two real sites: my own posts in my feed,
 * edits that travel, likes with counts and unlike, people and threads seen through my own site,
 * notifications with an unread count. Bad input leaves nothing behind.
 */
describe('social web', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;
  let bobPost: string;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([SiteProcess.create(['alice', 'mallory']), SiteProcess.create(['bob'])]);
    await bob.api('PATCH', '/api/me/profile', { as: 'bob', body: { displayName: 'Bob Baker' } });
    bobPost = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'Tea at four' } })).body.id;
    expect((await alice.api('POST', '/api/following', { as: 'alice', body: { address: bob.address('bob') } })).status).toBe(201);
    await waitFor('bob to see alice as follower', async () => (await bob.api('GET', '/api/followers', { as: 'bob' })).body.items.length === 1);
    await waitFor('the post in alice\'s feed', async () => (await feed()).some((p) => p.id === bobPost));
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy()]);
  });

  const feed = async () => (await alice.api('GET', '/api/feed', { as: 'alice' })).body.items as Array<Record<string, any>>;
  const inFeed = async (id: string) => (await feed()).find((p) => p.id === id);
  const expectError = (res: { status: number; body: any }, status: number, code: string) => {
    expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
    expect(res.body.error.message.length).toBeGreaterThan(5);
  };

  it('my own posts are on my Home, and feed posts carry the author\'s name', async () => {
    const mine = await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'My own words' } });
    expect(mine.status).toBe(201);
    const items = await feed();
    expect(items.find((p) => p.id === mine.body.id)).toMatchObject({ author: alice.address('alice'), likeCount: 0, likedByMe: false });
    // Bob's name came with the follow (my site fetched his profile): pages show a person, not an address.
    expect(items.find((p) => p.id === bobPost)?.authorProfile).toMatchObject({ address: bob.address('bob'), displayName: 'Bob Baker' });
  });

  it('an edit travels to the follower\'s site and shows as edited; nobody else can edit', async () => {
    const edited = await bob.api('PATCH', `/api/posts/${bobPost}`, { as: 'bob', body: { text: 'Tea at five' } });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ text: 'Tea at five', editedAt: expect.any(String) });
    await waitFor('the edit on alice\'s site', async () => (await inFeed(bobPost))?.text === 'Tea at five');
    expect((await inFeed(bobPost))?.editedAt).toBe(edited.body.editedAt);
    // The public post says it too.
    expect((await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.editedAt).toBe(edited.body.editedAt);

    // Someone else's token: refused, the text unchanged.
    const mineId = (await alice.api('POST', '/api/posts', { as: 'mallory', body: { text: 'mallory was here' } })).body.id;
    expectError(await alice.api('PATCH', `/api/posts/${mineId}`, { as: 'alice', body: { text: 'not yours' } }), 403, 'forbidden');
    expect(alice.count(`select count(*) n from posts where text = 'not yours'`)).toBe(0);
    // Too long: a clear refusal, not a silent cut.
    expectError(await bob.api('PATCH', `/api/posts/${bobPost}`, { as: 'bob', body: { text: 'x'.repeat(5001) } }), 400, 'invalid_request');
    expect((await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.text).toBe('Tea at five');
  });

  it('a forged edit changes nothing: another author naming the post, or a signature that is not the author\'s', async () => {
    const before = alice.count(`select count(*) n from remote_posts where text = 'Tea at five'`);
    expect(before).toBe(1);
    const sign = <T extends EnvelopeType>(from: Address, type: T, data: MessageData[T], key: { publicKey: string; secretKey: string }) =>
      createEnvelope({ type, from, to: parseAddress(alice.address('alice')), data }, nobleSigner(key));
    const post = { id: bobPost, text: 'forged words', createdAt: new Date().toISOString(), editedAt: new Date(Date.now() + 1000).toISOString() };
    // mallory is a real user with a real key, but the post is bob's: the edit names mallory's post, which does not exist here.
    const fromMallory = sign(parseAddress(alice.address('mallory')), 'post.update', { post }, alice.siteKeyOf('mallory'));
    const asMallory = await alice.api('POST', '/federation/inbox', { raw: JSON.stringify(fromMallory) });
    expect(asMallory.status).toBe(202);
    // Claiming to be bob with mallory's key: refused at the signature.
    const claimingBob = sign(parseAddress(bob.address('bob')), 'post.update', { post }, alice.siteKeyOf('mallory'));
    const forged = await alice.api('POST', '/federation/inbox', { raw: JSON.stringify(claimingBob) });
    expect(forged.status).toBe(401);
    expect(alice.count(`select count(*) n from remote_posts where text = 'forged words'`)).toBe(0);
    expect((await inFeed(bobPost))?.text).toBe('Tea at five');
  });

  it('likes show counts on both sites and can be undone', async () => {
    expect((await alice.api('POST', '/api/likes', { as: 'alice', body: { post: { author: bob.address('bob'), id: bobPost } } })).status).toBe(202);
    expect(await inFeed(bobPost)).toMatchObject({ likedByMe: true, likeCount: 1 });
    await waitFor('the like on bob\'s site', async () => (await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.likeCount === 1);
    // Liking twice counts once.
    await alice.api('POST', '/api/likes', { as: 'alice', body: { post: { author: bob.address('bob'), id: bobPost } } });
    expect((await inFeed(bobPost))?.likeCount).toBe(1);

    expect((await alice.api('DELETE', `/api/likes?author=${encodeURIComponent(bob.address('bob'))}&id=${bobPost}`, { as: 'alice' })).status).toBe(202);
    expect(await inFeed(bobPost)).toMatchObject({ likedByMe: false, likeCount: 0 });
    await waitFor('the unlike on bob\'s site', async () => (await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.likeCount === 0);
  });

  it('another site\'s person, posts and thread, seen through my own site', async () => {
    await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: bobPost }, text: 'count me in' } });
    await waitFor('the comment on bob\'s post', async () => (await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.comments.length === 1);
    const bobAddress = encodeURIComponent(bob.address('bob'));
    const person = await alice.api('GET', `/api/people/${bobAddress}`, { as: 'alice' });
    expect(person.status).toBe(200);
    expect(person.body).toMatchObject({ profile: { displayName: 'Bob Baker', address: bob.address('bob') }, local: false, me: false, following: true, followsMe: false, blocked: false });
    // The answer holds what the page needs and nothing else (no keys or devices of bob's).
    expect(person.body.profile.devices).toBeUndefined();

    const posts = await alice.api('GET', `/api/people/${bobAddress}/posts`, { as: 'alice' });
    expect(posts.body.items.map((p: { id: string }) => p.id)).toContain(bobPost);
    const thread = await alice.api('GET', `/api/people/${bobAddress}/posts/${bobPost}`, { as: 'alice' });
    expect(thread.body).toMatchObject({ text: 'Tea at five', comments: [{ author: alice.address('alice'), text: 'count me in' }] });

    const me = await alice.api('GET', `/api/people/${encodeURIComponent(alice.address('alice'))}`, { as: 'alice' });
    expect(me.body).toMatchObject({ local: true, me: true, following: false });
    expectError(await alice.api('GET', `/api/people/${encodeURIComponent(`nobody@${bob.host}`)}`, { as: 'alice' }), 404, 'not_found');
    expectError(await alice.api('GET', `/api/people/not-an-address`, { as: 'alice' }), 400, 'invalid_address');
    expectError(await alice.api('GET', `/api/people/${bobAddress}`), 401, 'unauthorized');
  });

  it('notifications: unread count, newest first, marked read', async () => {
    await waitFor('bob\'s notifications', async () => (await bob.api('GET', '/api/notifications', { as: 'bob' })).body.unread >= 2);
    const notes = (await bob.api('GET', '/api/notifications', { as: 'bob' })).body;
    expect(notes.items[0].seq).toBeGreaterThan(notes.items[notes.items.length - 1].seq);
    expect(notes.items.every((n: { read: boolean }) => !n.read)).toBe(true);
    const marked = await bob.api('POST', '/api/notifications/read', { as: 'bob', body: { upTo: notes.items[0].seq } });
    expect(marked.body).toEqual({ unread: 0 });
    const after = (await bob.api('GET', '/api/notifications', { as: 'bob' })).body;
    expect(after.unread).toBe(0);
    expect(after.items.every((n: { read: boolean }) => n.read)).toBe(true);
  });

  it('the contract refuses what it does not describe, with a clear error', async () => {
    expectError(await alice.api('POST', '/api/posts', { as: 'alice', body: { text: 'hi', secret: 1 } }), 400, 'invalid_request');
    expectError(await alice.api('GET', '/api/feed?limit=1000', { as: 'alice' }), 400, 'invalid_request');
    expectError(await alice.api('POST', '/api/notifications/read', { as: 'alice', body: { upTo: 'all' } }), 400, 'invalid_request');
  });
});
