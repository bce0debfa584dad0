import { createEnvelope, nobleSigner, parseAddress, type Address, type EnvelopeType, type MessageData } from '@hearth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLive, SiteProcess, waitFor } from './helpers/sites.js';

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
    // Names for a list of people, as my site knows them (nothing fetched for the unknown one).
    const names = await alice.api('GET', `/api/people?addresses=${bobAddress},${encodeURIComponent(`zed@${bob.host}`)}`, { as: 'alice' });
    expect(names.body.items).toEqual([{ address: bob.address('bob'), displayName: 'Bob Baker', avatarUrl: '' }, { address: `zed@${bob.host}` }]);
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

/** Conversations and control (issue 10): mentions, replies, reposts, mutes, pins, content warnings, search. */
describe('conversations and control', () => {
  let alice: SiteProcess;
  let bob: SiteProcess;
  let carol: SiteProcess;
  let bobPost: string;

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([SiteProcess.create(['alice']), SiteProcess.create(['bob']), SiteProcess.create(['carol'])]);
    bobPost = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'Tea at four #teatime' } })).body.id;
    // alice follows bob; carol follows alice (she sees what alice shares).
    await alice.api('POST', '/api/following', { as: 'alice', body: { address: bob.address('bob') } });
    await carol.api('POST', '/api/following', { as: 'carol', body: { address: alice.address('alice') } });
    await waitFor('both follows', async () =>
      (await bob.api('GET', '/api/followers', { as: 'bob' })).body.items.length === 1 && (await alice.api('GET', '/api/followers', { as: 'alice' })).body.items.length === 1);
  });
  afterAll(async () => {
    await Promise.all([alice?.destroy(), bob?.destroy(), carol?.destroy()]);
  });

  const expectError = (res: { status: number; body: any }, status: number, code: string) => {
    expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
    expect(res.body.error.message.length).toBeGreaterThan(5);
  };
  const notes = async (site: SiteProcess, user: string) => (await site.api('GET', '/api/notifications', { as: user })).body.items as Array<Record<string, any>>;

  it('a mention notifies the mentioned person\'s site; a mention of nobody is refused and nothing is posted', async () => {
    const posted = await alice.api('POST', '/api/posts', { as: 'alice', body: { text: `Who is coming, @carol@${carol.host}?` } });
    expect(posted.status).toBe(201);
    await waitFor('carol\'s mention', async () => (await notes(carol, 'carol')).some((n) => n.kind === 'mention'));
    const mention = (await notes(carol, 'carol')).find((n) => n.kind === 'mention')!;
    expect(mention).toMatchObject({ actor: { address: alice.address('alice') }, data: { post: posted.body.id, excerpt: expect.stringContaining('Who is coming') } });

    const before = alice.count('select count(*) n from posts');
    expectError(await alice.api('POST', '/api/posts', { as: 'alice', body: { text: `hi @nobody@${carol.host}` } }), 400, 'unknown_mention');
    expectError(await alice.api('POST', '/api/posts', { as: 'alice', body: { text: `hi @ghost@${alice.host}` } }), 400, 'unknown_mention');
    expect(alice.count('select count(*) n from posts')).toBe(before);
  });

  it('replies thread under a comment; a reply to a comment of another post is refused, nothing stored', async () => {
    const first = await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: bobPost }, text: 'I will bring scones' } });
    await waitFor('the comment', async () => (await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.comments.length === 1);
    const reply = await bob.api('POST', '/api/comments', { as: 'bob', body: { post: { author: bob.address('bob'), id: bobPost }, text: 'Lovely!', replyTo: first.body.id } });
    expect(reply.status).toBe(202);
    await waitFor('the reply', async () => (await bob.api('GET', `/api/users/bob/posts/${bobPost}`)).body.comments.length === 2);
    const thread = (await alice.api('GET', `/api/people/${encodeURIComponent(bob.address('bob'))}/posts/${bobPost}`, { as: 'alice' })).body;
    expect(thread.comments.find((c: { text: string }) => c.text === 'Lovely!')).toMatchObject({ replyTo: first.body.id });

    // A comment of another post on another site (carol's): refused at alice's site, before anything is queued.
    const carolPost = (await carol.api('POST', '/api/posts', { as: 'carol', body: { text: 'carol\'s own post' } })).body.id;
    await alice.api('POST', '/api/following', { as: 'alice', body: { address: carol.address('carol') } });
    const carolComment = await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: carol.address('carol'), id: carolPost }, text: 'nice' } });
    await waitFor('the comment on carol\'s post', async () => (await carol.api('GET', `/api/users/carol/posts/${carolPost}`)).body.comments.length === 1);
    const queued = alice.count('select count(*) n from outbox');
    expectError(await alice.api('POST', '/api/comments', { as: 'alice', body: { post: { author: bob.address('bob'), id: bobPost }, text: 'misplaced', replyTo: carolComment.body.id } }), 404, 'unknown_comment');
    expect(alice.count('select count(*) n from outbox')).toBe(queued);
    // And if it came as an envelope anyway, bob's site refuses it and keeps nothing.
    expect(bob.count(`select count(*) n from comments where text = 'misplaced'`)).toBe(0);
  });

  it('a repost reaches my followers with attribution and can be undone; a repost of a deleted post is refused', async () => {
    const shared = await alice.api('POST', '/api/reposts', { as: 'alice', body: { post: { author: bob.address('bob'), id: bobPost } } });
    expect(shared.status).toBe(201);
    // carol follows alice, not bob: bob's post shows in carol's feed, shared by alice, read from bob's site.
    await waitFor('the shared post in carol\'s feed', async () => (await carol.api('GET', '/api/feed', { as: 'carol' })).body.items.some((p: { id: string }) => p.id === bobPost));
    const item = (await carol.api('GET', '/api/feed', { as: 'carol' })).body.items.find((p: { id: string }) => p.id === bobPost);
    expect(item).toMatchObject({ author: bob.address('bob'), text: 'Tea at four #teatime', repostedBy: { address: alice.address('alice') } });
    // bob is told.
    await waitFor('bob\'s repost notification', async () => (await notes(bob, 'bob')).some((n) => n.kind === 'repost'));
    expect((await alice.api('GET', '/api/feed', { as: 'alice' })).body.items.find((p: { id: string; repostedBy?: unknown }) => p.id === bobPost && p.repostedBy)).toMatchObject({ repostedByMe: true });

    expect((await alice.api('DELETE', `/api/reposts?author=${encodeURIComponent(bob.address('bob'))}&id=${bobPost}`, { as: 'alice' })).status).toBe(200);
    await waitFor('the share gone from carol\'s feed', async () => !(await carol.api('GET', '/api/feed', { as: 'carol' })).body.items.some((p: { id: string }) => p.id === bobPost));

    const doomed = (await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'soon gone' } })).body.id;
    await bob.api('DELETE', `/api/posts/${doomed}`, { as: 'bob' });
    expectError(await alice.api('POST', '/api/reposts', { as: 'alice', body: { post: { author: bob.address('bob'), id: doomed } } }), 404, 'unknown_post');
    expect(alice.count(`select count(*) n from reposts where post_id = '${doomed}'`)).toBe(0);
  });

  it('mute hides someone from my feed and notifications without telling them', async () => {
    expect((await alice.api('POST', '/api/mutes', { as: 'alice', body: { address: bob.address('bob') } })).status).toBe(201);
    expect((await alice.api('GET', '/api/feed', { as: 'alice' })).body.items.some((p: { author: string }) => p.author === bob.address('bob'))).toBe(false);
    expect((await alice.api('GET', `/api/people/${encodeURIComponent(bob.address('bob'))}`, { as: 'alice' })).body).toMatchObject({ muted: true, following: true });
    const before = (await notes(alice, 'alice')).length;
    await bob.api('POST', '/api/likes', { as: 'bob', body: { post: { author: alice.address('alice'), id: (await alice.api('GET', '/api/users/alice/posts')).body.items[0].id } } });
    await waitFor('bob\'s like to arrive', async () => alice.count('select count(*) n from likes') === 1);
    expect((await notes(alice, 'alice')).length).toBe(before);
    expect((await alice.api('DELETE', `/api/mutes/${encodeURIComponent(bob.address('bob'))}`, { as: 'alice' })).status).toBe(204);
    expect((await alice.api('GET', '/api/feed', { as: 'alice' })).body.items.some((p: { author: string }) => p.author === bob.address('bob'))).toBe(true);
  });

  it('content warnings travel with the post; a pinned post is on the profile; search finds words and people', async () => {
    const cw = await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'The ending of the film', contentWarning: 'film spoilers' } });
    await waitFor('the post with its warning at alice\'s', async () => (await alice.api('GET', '/api/feed', { as: 'alice' })).body.items.some((p: { id: string; contentWarning?: string }) => p.id === cw.body.id && p.contentWarning === 'film spoilers'));
    expectError(await bob.api('POST', '/api/posts', { as: 'bob', body: { text: 'x', contentWarning: 'w'.repeat(201) } }), 400, 'invalid_request');

    expect((await bob.api('PUT', '/api/me/pinned', { as: 'bob', body: { id: bobPost } })).body).toEqual({ pinnedPost: bobPost });
    expect((await bob.api('GET', '/api/users/bob')).body.pinnedPost).toBe(bobPost);
    expect((await alice.api('GET', `/api/people/${encodeURIComponent(bob.address('bob'))}`, { as: 'alice' })).body.pinnedPost).toBe(bobPost);
    const alicesPost = (await alice.api('GET', '/api/users/alice/posts')).body.items[0].id;
    expectError(await bob.api('PUT', '/api/me/pinned', { as: 'bob', body: { id: alicesPost } }), 404, 'not_found');

    const found = (await alice.api('GET', '/api/search?q=%23teatime', { as: 'alice' })).body;
    expect(found.posts.map((p: { id: string }) => p.id)).toEqual([bobPost]);
    expect((await alice.api('GET', '/api/search?q=film', { as: 'alice' })).body.posts.map((p: { id: string }) => p.id)).toEqual([cw.body.id]);
    expect((await alice.api('GET', '/api/search?q=scon', { as: 'alice' })).body.posts).toEqual([]); // comments are not posts
    // A pasted address finds the person before any follow.
    const byAddress = (await bob.api('GET', `/api/search?q=${encodeURIComponent(carol.address('carol'))}`, { as: 'bob' })).body;
    expect(byAddress.people.map((p: { address: string }) => p.address)).toEqual([carol.address('carol')]);
    // Query syntax is never FTS syntax: quotes and operators are plain words.
    expect((await alice.api('GET', '/api/search?q=%22%20OR%20*', { as: 'alice' })).status).toBe(200);
    expectError(await alice.api('GET', '/api/search?q=', { as: 'alice' }), 400, 'invalid_request');
  });
});

describe('followers on the same site', () => {
  let site: SiteProcess;
  beforeAll(async () => {
    site = await SiteProcess.create(['ann', 'ben']);
  });
  afterAll(async () => site?.destroy());

  it('get the post in their feed and a live event at once, with no envelope through the site\'s own inbox', async () => {
    expect((await site.api('POST', '/api/following', { as: 'ben', body: { address: site.address('ann') } })).status).toBe(201);
    const live = await openLive(site, 'ben', (event) => event.type === 'feed');
    const queuedBefore = site.count('select count(*) n from outbox');
    const post = await site.api('POST', '/api/posts', { as: 'ann', body: { text: 'tea on the terrace at four' } });
    expect(post.status).toBe(201);
    await expect.poll(() => live.events.length).toBeGreaterThan(0);
    expect((await site.api('GET', '/api/feed', { as: 'ben' })).body.items.map((p: { id: string }) => p.id)).toContain(post.body.id);
    // Nothing was signed and queued to this site itself, and no copy of ann's post was made.
    expect(site.count('select count(*) n from outbox') - queuedBefore).toBe(0);
    expect(site.count('select count(*) n from remote_posts')).toBe(0);
    // An edit and a delete reach ben's open page the same way.
    const heard = live.events.length;
    await site.api('PATCH', `/api/posts/${post.body.id}`, { as: 'ann', body: { text: 'tea on the terrace at five' } });
    await expect.poll(() => live.events.length).toBeGreaterThan(heard);
    expect((await site.api('GET', '/api/feed', { as: 'ben' })).body.items.find((p: { id: string }) => p.id === post.body.id).text).toBe('tea on the terrace at five');
    await site.api('DELETE', `/api/posts/${post.body.id}`, { as: 'ann' });
    expect((await site.api('GET', '/api/feed', { as: 'ben' })).body.items.map((p: { id: string }) => p.id)).not.toContain(post.body.id);
    live.close();
  });
});

describe('followers on another site', () => {
  let author: SiteProcess;
  let readers: SiteProcess;
  const names = ['rae', 'sam', 'tia', 'uma', 'vic'];
  beforeAll(async () => {
    [author, readers] = await Promise.all([SiteProcess.create(['ann']), SiteProcess.create(names)]);
    for (const name of names) expect((await readers.api('POST', '/api/following', { as: name, body: { address: author.address('ann') } })).status).toBe(201);
  });
  afterAll(async () => Promise.all([author?.destroy(), readers?.destroy()]));

  it('hear of a post once each: it arrives as one envelope per follower, and the first already shows it to all of them', async () => {
    const pages = await Promise.all(names.map((name) => openLive(readers, name, (event) => event.type === 'feed')));
    const seenBefore = readers.count('select count(*) n from inbox_seen');
    const post = await author.api('POST', '/api/posts', { as: 'ann', body: { text: 'the allotment has plums' } });
    expect(post.status).toBe(201);
    // Every follower's envelope is in (five), and every page has heard of the post.
    await waitFor('every follower\'s envelope', () => readers.count('select count(*) n from inbox_seen') - seenBefore === names.length);
    await waitFor('the post on every page', () => pages.every((page) => page.events.length >= 1));
    for (const name of names) expect((await readers.api('GET', '/api/feed', { as: name })).body.items.map((p: { id: string }) => p.id)).toContain(post.body.id);
    // An edit is news again, once.
    await author.api('PATCH', `/api/posts/${post.body.id}`, { as: 'ann', body: { text: 'the allotment has plums and pears' } });
    await waitFor('every follower\'s edit', () => readers.count('select count(*) n from inbox_seen') - seenBefore === 2 * names.length);
    await waitFor('the edit on every page', () => pages.every((page) => page.events.length >= 2));
    // One more event would have arrived by now: the site emits right after each envelope's commit,
    // and all ten are committed. One per post and one per edit, not one per envelope (five each).
    expect(pages.map((page) => page.events.length)).toEqual(names.map(() => 2));
    for (const page of pages) page.close();
  });
});
