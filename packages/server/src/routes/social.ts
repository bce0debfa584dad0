import { formatAddress, LIMITS, newEnvelopeId, TYPES } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Context } from '../context.js';
import { badRequest, forbidden, notFound } from '../errors.js';
import { parseAddressInput, parseInput, requireUser } from '../http-helpers.js';
import { queueEnvelope } from '../outbox/send.js';
import { rowsAfter } from '../storage/sequenced.js';

const PostRef = z.strictObject({ author: z.string().max(300), id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a post id') });
const NewComment = z.strictObject({
  post: PostRef,
  text: z.string().trim().min(1, 'a comment needs some text').max(LIMITS.commentChars, `a comment may be at most ${LIMITS.commentChars} characters`),
});
const Like = z.strictObject({ post: PostRef });
const Block = z.strictObject({ address: z.string().max(300) });
const NotificationsQuery = z.object({ after: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(200).default(50) });

export const socialRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  /** A comment is a signed envelope to the post author's site; it appears there once delivered. */
  app.post('/api/comments', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const body = parseInput(NewComment, request.body);
    const author = parseAddressInput(body.post.author);
    const comment = { id: newEnvelopeId(), text: body.text, createdAt: new Date(ctx.now()).toISOString() };
    await ctx.db.transaction().execute((trx) =>
      queueEnvelope(ctx, trx, { type: TYPES.commentCreate, from: username, to: author, data: { post: { id: body.post.id }, comment } }),
    );
    ctx.outbox.wake();
    void reply.status(202);
    return { ...comment, post: { author: formatAddress(author), id: body.post.id }, status: 'sending' };
  });

  /** Moderation: the post's author deletes any comment on it. */
  app.delete('/api/posts/:postId/comments/:commentId', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { postId, commentId } = request.params as { postId: string; commentId: string };
    const post = await ctx.db.selectFrom('posts').select('author').where('id', '=', postId).executeTakeFirst();
    if (!post) throw notFound(`post ${postId.slice(0, 64)}`);
    if (post.author !== username) throw forbidden('only the author of a post can delete comments on it');
    const result = await ctx.db.deleteFrom('comments').where('id', '=', commentId).where('post_id', '=', postId).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`comment ${commentId.slice(0, 64)}`);
    return reply.status(204).send();
  });

  app.post('/api/likes', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { post } = parseInput(Like, request.body);
    const author = parseAddressInput(post.author);
    await ctx.db.transaction().execute((trx) => queueEnvelope(ctx, trx, { type: TYPES.likeCreate, from: username, to: author, data: { post: { id: post.id } } }));
    ctx.outbox.wake();
    void reply.status(202);
    return { post: { author: formatAddress(author), id: post.id }, liked: true };
  });

  app.delete('/api/likes', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { author: authorText, id } = parseInput(PostRef, request.query, 'query');
    const author = parseAddressInput(authorText);
    await ctx.db.transaction().execute((trx) => queueEnvelope(ctx, trx, { type: TYPES.likeDelete, from: username, to: author, data: { post: { id } } }));
    ctx.outbox.wake();
    void reply.status(202);
    return { post: { author: formatAddress(author), id }, liked: false };
  });

  /**
   * Blocking drops every later envelope from that address without telling its sender, and ends
   * the follow both ways: they are dropped as my follower and their site is told to stop
   * following me (follower.remove); I stop following them (unfollow). Both sites then agree.
   */
  app.post('/api/blocks', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const target = parseAddressInput(parseInput(Block, request.body).address);
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

  app.get('/api/blocks', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('blocks').select(['address', 'created_at']).where('username', '=', username).orderBy('created_at', 'desc').execute();
    return { items: rows.map((r) => ({ address: r.address, since: new Date(Number(r.created_at)).toISOString() })) };
  });

  app.delete('/api/blocks/:address', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const address = formatAddress(parseAddressInput(decodeURIComponent((request.params as { address: string }).address)));
    const result = await ctx.db.deleteFrom('blocks').where('username', '=', username).where('address', '=', address).executeTakeFirst();
    ctx.users.blocksChanged(username);
    if (Number(result.numDeletedRows) === 0) throw notFound(`${address} in your blocked list`);
    // Follows that the block ended stay ended: either side may follow again.
    return reply.status(204).send();
  });

  app.get('/api/notifications', async (request) => {
    const username = await requireUser(ctx, request);
    const query = parseInput(NotificationsQuery, request.query, 'query');
    const rows = await rowsAfter(ctx.db, 'notifications', username, query.after, query.limit);
    return {
      items: rows.map((r) => ({ seq: Number(r.seq), kind: r.kind, data: JSON.parse(r.data) as unknown, createdAt: new Date(Number(r.created_at)).toISOString() })),
    };
  });
};
