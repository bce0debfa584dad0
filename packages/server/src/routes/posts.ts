import { contractRoute } from '../http-contract.js';
import { nextPostSeq, postCounts } from '../storage/posts.js';
import { LIMITS, newEnvelopeId, parseAddress, TYPES, type Attachment } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { badRequest, forbidden, notFound } from '../errors.js';
import { requireUser } from '../http-helpers.js';
import { queueEnvelope } from '../outbox/send.js';
import { localAddressText } from '../storage/users.js';

export const postRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  /** A new post, and in the same transaction a push to every follower's site. */
  contractRoute(app, 'createPost', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const { text, attachments: wanted } = request.body;
    const now = ctx.now();
    const attachments: Attachment[] = [];
    for (const { id, alt } of wanted ?? []) {
      const media = await ctx.db.selectFrom('media').selectAll().where('id', '=', id).where('owner', '=', username).executeTakeFirst();
      if (!media) throw badRequest('unknown_media', `image ${id} is not one of your uploads`);
      attachments.push({ url: `${ctx.config.origin}/media/${media.file}`, type: media.type as Attachment['type'], width: media.width, height: media.height, alt });
    }
    const post = { id: newEnvelopeId(), text, createdAt: new Date(now).toISOString(), ...(attachments.length ? { attachments } : {}) };
    await ctx.db.transaction().execute(async (trx) => {
      const seq = await nextPostSeq(trx);
      await trx.insertInto('posts').values({ id: post.id, author: username, text, created_at: now, attachments: attachments.length ? JSON.stringify(attachments) : null, seq }).execute();
      const followers = await trx.selectFrom('followers').select('follower').where('username', '=', username).execute();
      for (const { follower } of followers) {
        await queueEnvelope(ctx, trx, { type: TYPES.postCreate, from: username, to: parseAddress(follower), data: { post } });
      }
    });
    ctx.outbox.wake();
    void reply.status(201);
    return { ...post, author: localAddressText(ctx.site, username), url: `${ctx.config.origin}/@${username}/${post.id}`, likeCount: 0, commentCount: 0 };
  });

  /**
   * Edits my post: the new text goes to every follower's site (post.update) and the post takes a
   * new place in my post sequence, so a follower that pulls instead gets the edit too.
   */
  contractRoute(app, 'editPost', async (request) => {
    const username = await requireUser(ctx, request);
    const id = request.params.id;
    const row = await ctx.db.selectFrom('posts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`post ${id.slice(0, 64)}`);
    if (row.author !== username) throw forbidden('this post belongs to another user');
    const now = ctx.now();
    const text = request.body.text;
    const attachments = row.attachments ? (JSON.parse(row.attachments) as Attachment[]) : [];
    const post = { id, text, createdAt: new Date(Number(row.created_at)).toISOString(), editedAt: new Date(now).toISOString(), ...(attachments.length ? { attachments } : {}) };
    await ctx.db.transaction().execute(async (trx) => {
      const seq = await nextPostSeq(trx);
      await trx.updateTable('posts').set({ text, edited_at: now, seq }).where('id', '=', id).where('author', '=', username).execute();
      const followers = await trx.selectFrom('followers').select('follower').where('username', '=', username).execute();
      for (const { follower } of followers) {
        await queueEnvelope(ctx, trx, { type: TYPES.postUpdate, from: username, to: parseAddress(follower), data: { post } });
      }
    });
    ctx.outbox.wake();
    const counts = (await postCounts(ctx.db, [id])).get(id)!;
    return { ...post, author: localAddressText(ctx.site, username), url: `${ctx.config.origin}/@${username}/${id}`, likeCount: counts.likes, commentCount: counts.comments };
  });

  contractRoute(app, 'deletePost', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const id = request.params.id;
    const post = await ctx.db.selectFrom('posts').select(['author']).where('id', '=', id).executeTakeFirst();
    if (!post) throw notFound(`post ${id.slice(0, 64)}`);
    if (post.author !== username) throw forbidden('this post belongs to another user');
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('posts').where('id', '=', id).execute();
      const followers = await trx.selectFrom('followers').select('follower').where('username', '=', username).execute();
      for (const { follower } of followers) {
        await queueEnvelope(ctx, trx, { type: TYPES.postDelete, from: username, to: parseAddress(follower), data: { post: { id } } });
      }
    });
    ctx.outbox.wake();
    return reply.status(204).send();
  });
};
