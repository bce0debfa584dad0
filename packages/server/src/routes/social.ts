import { sql, type Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import { contractRoute } from '../http-contract.js';
import { formatAddress, newEnvelopeId, TYPES, type Address } from '@hearth/protocol';
import { remoteLookupError } from '../federation/directory.js';
import { fetchRemotePost, keepRemotePost } from '../federation/remote-post.js';
import { localAddressText } from '../storage/users.js';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { ApiError, badRequest, forbidden, notFound } from '../errors.js';
import { parseAddressInput, requireUser } from '../http-helpers.js';
import { queueEnvelope, queueToFollowers } from '../outbox/send.js';
import { rowsAfter } from '../storage/sequenced.js';
import { describeNotifications, newestNotifications, unreadNotifications } from '../storage/notifications.js';

export const socialRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  /** A comment is a signed envelope to the post author's site; it appears there once delivered. */
  contractRoute(app, 'comment', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const body = request.body;
    const author = parseAddressInput(body.post.author);
    if (body.replyTo) await checkReplyTarget(ctx, author, body.post.id, body.replyTo);
    const comment = { id: newEnvelopeId(), text: body.text, createdAt: new Date(ctx.now()).toISOString(), ...(body.replyTo ? { replyTo: body.replyTo } : {}) };
    await ctx.db.transaction().execute((trx) =>
      queueEnvelope(ctx, trx, { type: TYPES.commentCreate, from: username, to: author, data: { post: { id: body.post.id }, comment } }),
    );
    ctx.outbox.wake();
    void reply.status(202);
    return { ...comment, post: { author: formatAddress(author), id: body.post.id }, status: 'sending' };
  });

  /** Moderation: the post's author deletes any comment on it. */
  contractRoute(app, 'deleteComment', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { postId, commentId } = request.params;
    const post = await ctx.db.selectFrom('posts').select('author').where('id', '=', postId).executeTakeFirst();
    if (!post) throw notFound(`post ${postId.slice(0, 64)}`);
    if (post.author !== username) throw forbidden('only the author of a post can delete comments on it');
    const result = await ctx.db.deleteFrom('comments').where('id', '=', commentId).where('post_id', '=', postId).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`comment ${commentId.slice(0, 64)}`);
    return reply.status(204).send();
  });

  /** Sharing someone's post with my followers (the post is read from its author's site first). */
  contractRoute(app, 'repost', async (request) => {
    const username = await requireUser(ctx, request);
    const author = parseAddressInput(request.body.post.author);
    const id = request.body.post.id;
    const authorText = formatAddress(author);
    const me = localAddressText(ctx.site, username);
    const gone = () => new ApiError('unknown_post', `this post of ${authorText} does not exist (any more): its author may have deleted it`, { status: 404 });
    if (ctx.directory.isLocal(author)) {
      if (!(await ctx.db.selectFrom('posts').select('id').where('id', '=', id).where('author', '=', author.username).executeTakeFirst())) throw gone();
    } else {
      const post = await fetchRemotePost(ctx.directory, author, id).catch((error: unknown) => {
        throw remoteLookupError(error, author);
      });
      if (!post) throw gone();
      await keepRemotePost(ctx.db, author, post, ctx.now());
    }
    await ctx.db.transaction().execute(async (trx) => {
      const added = await trx
        .insertInto('reposts')
        .values({ username, author: authorText, post_id: id, created_at: ctx.now() })
        .onConflict((oc) => oc.columns(['username', 'author', 'post_id']).doNothing())
        .executeTakeFirst();
      if (Number(added.numInsertedOrUpdatedRows ?? 0) === 0) return; // shared already
      const data = { post: { author: authorText, id } };
      await queueToFollowers(ctx, trx, username, TYPES.repostCreate, data);
      if (authorText !== me) await queueEnvelope(ctx, trx, { type: TYPES.repostCreate, from: username, to: author, data });
    });
    ctx.outbox.wake();
    void ctx.live.feedChanged(localAddressText(ctx.site, username));
    return { post: { author: authorText, id }, reposted: true };
  });

  contractRoute(app, 'unrepost', async (request) => {
    const username = await requireUser(ctx, request);
    const author = formatAddress(parseAddressInput(request.query.author));
    const id = request.query.id;
    await ctx.db.transaction().execute(async (trx) => {
      const removed = await trx.deleteFrom('reposts').where('username', '=', username).where('author', '=', author).where('post_id', '=', id).executeTakeFirst();
      if (Number(removed.numDeletedRows) === 0) return;
      await queueToFollowers(ctx, trx, username, TYPES.repostDelete, { post: { author, id } });
    });
    ctx.outbox.wake();
    void ctx.live.feedChanged(localAddressText(ctx.site, username));
    return { post: { author, id }, reposted: false };
  });

  /** Muting hides someone from my feed and notifications; nothing is sent, they are not told. */
  contractRoute(app, 'mute', async (request) => {
    const username = await requireUser(ctx, request);
    const address = formatAddress(parseAddressInput(request.body.address));
    if (address === localAddressText(ctx.site, username)) throw badRequest('invalid_request', 'you cannot mute yourself');
    await ctx.db.insertInto('mutes').values({ username, address, created_at: ctx.now() }).onConflict((oc) => oc.columns(['username', 'address']).doNothing()).execute();
    return { address, muted: true as const };
  });

  contractRoute(app, 'mutes', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('mutes').select(['address', 'created_at']).where('username', '=', username).orderBy('created_at', 'desc').execute();
    return { items: rows.map((r) => ({ address: r.address, since: new Date(Number(r.created_at)).toISOString() })) };
  });

  contractRoute(app, 'unmute', async (request) => {
    const username = await requireUser(ctx, request);
    const address = formatAddress(parseAddressInput(request.params.address));
    const result = await ctx.db.deleteFrom('mutes').where('username', '=', username).where('address', '=', address).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`${address} in your muted list`);
  });

  contractRoute(app, 'like', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { post } = request.body;
    const author = parseAddressInput(post.author);
    await ctx.db.transaction().execute(async (trx) => {
      const added = await trx
        .insertInto('my_likes')
        .values({ username, author: formatAddress(author), post_id: post.id, created_at: ctx.now() })
        .onConflict((oc) => oc.columns(['username', 'author', 'post_id']).doNothing())
        .executeTakeFirst();
      // The author's site counts likes; until its next answer my copy of the post counts mine.
      if (Number(added.numInsertedOrUpdatedRows ?? 0) > 0) await bumpRemoteLikeCount(trx, formatAddress(author), post.id, +1);
      await queueEnvelope(ctx, trx, { type: TYPES.likeCreate, from: username, to: author, data: { post: { id: post.id } } });
    });
    ctx.outbox.wake();
    void reply.status(202);
    return { post: { author: formatAddress(author), id: post.id }, liked: true };
  });

  contractRoute(app, 'unlike', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { author: authorText, id } = request.query;
    const author = parseAddressInput(authorText);
    await ctx.db.transaction().execute(async (trx) => {
      const removed = await trx.deleteFrom('my_likes').where('username', '=', username).where('author', '=', formatAddress(author)).where('post_id', '=', id).executeTakeFirst();
      if (Number(removed.numDeletedRows) > 0) await bumpRemoteLikeCount(trx, formatAddress(author), id, -1);
      await queueEnvelope(ctx, trx, { type: TYPES.likeDelete, from: username, to: author, data: { post: { id } } });
    });
    ctx.outbox.wake();
    void reply.status(202);
    return { post: { author: formatAddress(author), id }, liked: false };
  });

  /**
   * Blocking drops every later envelope from that address without telling its sender, and ends
   * the follow both ways: they are dropped as my follower and their site is told to stop
   * following me (follower.remove); I stop following them (unfollow). Both sites then agree.
   */
  contractRoute(app, 'block', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const target = parseAddressInput(request.body.address);
    const address = formatAddress(target);
    if (address === formatAddress({ username, ...ctx.site })) throw badRequest('cannot_block_self', 'you cannot block yourself');
    await ctx.db.transaction().execute(async (trx) => {
      await trx.insertInto('blocks').values({ username, address, created_at: ctx.now() }).onConflict((oc) => oc.columns(['username', 'address']).doNothing()).execute();
      const follower = await trx.deleteFrom('followers').where('username', '=', username).where('follower', '=', address).executeTakeFirst();
      if (Number(follower.numDeletedRows) > 0) await queueEnvelope(ctx, trx, { type: TYPES.followerRemove, from: username, to: target, data: {} });
      const following = await trx.deleteFrom('following').where('username', '=', username).where('target', '=', address).executeTakeFirst();
      if (Number(following.numDeletedRows) > 0) await queueEnvelope(ctx, trx, { type: TYPES.unfollow, from: username, to: target, data: {} });
    });
    ctx.users.blocksChanged(username);
    ctx.users.followingChanged();
    ctx.outbox.wake();
    void reply.status(201);
    return { address, blocked: true };
  });

  contractRoute(app, 'blocks', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('blocks').select(['address', 'created_at']).where('username', '=', username).orderBy('created_at', 'desc').execute();
    return { items: rows.map((r) => ({ address: r.address, since: new Date(Number(r.created_at)).toISOString() })) };
  });

  contractRoute(app, 'unblock', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const address = formatAddress(parseAddressInput(request.params.address));
    const result = await ctx.db.deleteFrom('blocks').where('username', '=', username).where('address', '=', address).executeTakeFirst();
    ctx.users.blocksChanged(username);
    if (Number(result.numDeletedRows) === 0) throw notFound(`${address} in your blocked list`);
    // Follows that the block ended stay ended: either side may follow again.
    return reply.status(204).send();
  });

  contractRoute(app, 'notifications', async (request) => {
    const username = await requireUser(ctx, request);
    const query = request.query;
    const rows = query.after !== undefined ? await rowsAfter(ctx.db, 'notifications', username, query.after, query.limit) : await newestNotifications(ctx.db, username, query.before, query.limit);
    return { items: await describeNotifications(ctx.db, ctx.site, username, rows), unread: await unreadNotifications(ctx.db, username) };
  });

  /** Marks my notifications up to a seq as read (the page does it once they are on screen). */
  contractRoute(app, 'markNotificationsRead', async (request) => {
    const username = await requireUser(ctx, request);
    await ctx.db.updateTable('notifications').set({ read_at: ctx.now() }).where('username', '=', username).where('seq', '<=', request.body.upTo).where('read_at', 'is', null).execute();
    ctx.live.emit(username, { type: 'notification', kind: 'read' });
    return { unread: await unreadNotifications(ctx.db, username) };
  });
};

/** Adjusts my copy of a remote post's like count (local posts are counted from `likes`). */
async function bumpRemoteLikeCount(trx: Kysely<Database>, author: string, postId: string, delta: number): Promise<void> {
  await trx
    .updateTable('remote_posts')
    .set((eb) => ({ like_count: sql<number>`case when coalesce(${eb.ref('like_count')}, 0) + ${delta} < 0 then 0 else coalesce(${eb.ref('like_count')}, 0) + ${delta} end` }))
    .where('author', '=', author)
    .where('id', '=', postId)
    .execute();
}

/**
 * A reply answers a comment of the same post. Checked here first, so a wrong reference is a clear
 * error now: in my database for my own posts, on the author's site for theirs. When that site does
 * not answer, the reply goes anyway and the author's site checks it (PROTOCOL.md §5).
 */
async function checkReplyTarget(ctx: Context, author: Address, postId: string, replyTo: string): Promise<void> {
  const refused = () => new ApiError('unknown_comment', `the comment you reply to is not a comment on this post`, { status: 404 });
  if (ctx.directory.isLocal(author)) {
    const parent = await ctx.db
      .selectFrom('comments')
      .innerJoin('posts', 'posts.id', 'comments.post_id')
      .select('comments.id')
      .where('comments.id', '=', replyTo)
      .where('comments.post_id', '=', postId)
      .where('posts.author', '=', author.username)
      .executeTakeFirst();
    if (!parent) throw refused();
    return;
  }
  const post = await fetchRemotePost(ctx.directory, author, postId).catch(() => null);
  if (post === undefined) throw new ApiError('unknown_post', `${formatAddress(author)} has no post ${postId}`, { status: 404 });
  if (post && !post.comments.some((c) => c.id === replyTo)) throw refused();
}
