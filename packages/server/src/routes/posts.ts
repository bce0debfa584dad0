import { findMentions, HearthError, LIMITS, newEnvelopeId, parseAddress, TYPES, type Attachment, type PostData } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Kysely } from 'kysely';
import type { Context } from '../context.js';
import { ApiError, badRequest, forbidden, notFound } from '../errors.js';
import { contractRoute } from '../http-contract.js';
import { requireUser } from '../http-helpers.js';
import { queueEnvelope, queueToFollowers } from '../outbox/send.js';
import { nextPostSeq, postCounts } from '../storage/posts.js';
import type { Database } from '../storage/schema.js';
import { findUser, localAddressText } from '../storage/users.js';

const unknownMention = (address: string) => new ApiError('unknown_mention', `nobody lives at ${address}: check the address of the person you mention (nothing was posted)`, { status: 400 });

/**
 * The people a text mentions, checked before anything is stored: a typo in an address is a clear
 * error now, not a message lost later. A site that does not answer is given the benefit of the
 * doubt (its mention waits in the outbox like any envelope).
 */
async function checkMentions(ctx: Context, username: string, text: string): Promise<string[]> {
  const me = localAddressText(ctx.site, username);
  const mentioned = findMentions(text).filter((a) => a !== me);
  if (mentioned.length > LIMITS.mentions) throw badRequest('invalid_request', `a post may mention at most ${LIMITS.mentions} people`);
  for (const address of mentioned) {
    const target = parseAddress(address);
    if (ctx.directory.isLocal(target)) {
      if (!(await findUser(ctx.db, target.username))) throw unknownMention(address);
      continue;
    }
    await ctx.directory.profileOf(target).catch((error: unknown) => {
      if (error instanceof HearthError && error.code === 'unknown_user') throw unknownMention(address);
      if (error instanceof HearthError && (error.code === 'forbidden_address' || error.code === 'insecure_url')) throw unknownMention(address);
    });
  }
  return mentioned;
}

/** Tells each mentioned person's site, in the caller's transaction. */
async function queueMentions(ctx: Context, trx: Kysely<Database>, username: string, post: { id: string; text: string }, addresses: string[]): Promise<void> {
  const excerpt = post.text.replace(/\s+/g, ' ').trim().slice(0, 280);
  for (const address of addresses) {
    await queueEnvelope(ctx, trx, { type: TYPES.mention, from: username, to: parseAddress(address), data: { post: { id: post.id, excerpt } } });
  }
}

export const postRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  /** A new post, and in the same transaction a push to every follower's site and a mention to each person named. */
  contractRoute(app, 'createPost', async (request) => {
    const username = await requireUser(ctx, request);
    await ctx.quota.checkStorage(Buffer.byteLength(request.body.text));
    await ctx.quota.checkPostRate();
    const { text, attachments: wanted } = request.body;
    const contentWarning = request.body.contentWarning || undefined;
    const mentioned = await checkMentions(ctx, username, text);
    const now = ctx.now();
    const attachments: Attachment[] = [];
    for (const { id, alt } of wanted ?? []) {
      const media = await ctx.db.selectFrom('media').selectAll().where('id', '=', id).where('owner', '=', username).executeTakeFirst();
      if (!media) throw badRequest('unknown_media', `image ${id} is not one of your uploads`);
      attachments.push({ url: `${ctx.config.origin}/media/${media.file}`, type: media.type as Attachment['type'], width: media.width, height: media.height, alt });
    }
    const post: PostData = { id: newEnvelopeId(), text, createdAt: new Date(now).toISOString(), ...(contentWarning ? { contentWarning } : {}), ...(attachments.length ? { attachments } : {}) };
    await ctx.db.transaction().execute(async (trx) => {
      const seq = await nextPostSeq(trx);
      await trx
        .insertInto('posts')
        .values({ id: post.id, author: username, text, created_at: now, attachments: attachments.length ? JSON.stringify(attachments) : null, seq, content_warning: contentWarning ?? null })
        .execute();
      await queueToFollowers(ctx, trx, username, TYPES.postCreate, { post });
      await queueMentions(ctx, trx, username, post, mentioned);
    });
    ctx.outbox.wake();
    ctx.fanout.wake();
    void ctx.live.feedChanged(localAddressText(ctx.site, username));
    const me = (await findUser(ctx.db, username))!;
    const author = localAddressText(ctx.site, username);
    return {
      ...post,
      author,
      authorProfile: { address: author, displayName: me.display_name, avatarUrl: me.avatar_url },
      url: `${ctx.config.origin}/@${username}/${post.id}`,
      likeCount: 0,
      commentCount: 0,
      likedByMe: false,
      repostedByMe: false,
    };
  });

  /**
   * Edits my post: the new text goes to every follower's site (post.update) and the post takes a
   * new place in my post sequence, so a follower that pulls instead gets the edit too. People
   * newly mentioned are told; those mentioned before are not told again.
   */
  contractRoute(app, 'editPost', async (request) => {
    const username = await requireUser(ctx, request);
    const id = request.params.id;
    const row = await ctx.db.selectFrom('posts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`post ${id.slice(0, 64)}`);
    if (row.author !== username) throw forbidden('this post belongs to another user');
    const text = request.body.text;
    const mentioned = await checkMentions(ctx, username, text);
    const before = new Set(findMentions(row.text));
    const now = ctx.now();
    const contentWarning = request.body.contentWarning === undefined ? (row.content_warning ?? undefined) : request.body.contentWarning || undefined;
    const attachments = row.attachments ? (JSON.parse(row.attachments) as Attachment[]) : [];
    const post = {
      id,
      text,
      createdAt: new Date(Number(row.created_at)).toISOString(),
      editedAt: new Date(now).toISOString(),
      ...(contentWarning ? { contentWarning } : {}),
      ...(attachments.length ? { attachments } : {}),
    };
    await ctx.db.transaction().execute(async (trx) => {
      const seq = await nextPostSeq(trx);
      await trx.updateTable('posts').set({ text, edited_at: now, seq, content_warning: contentWarning ?? null }).where('id', '=', id).where('author', '=', username).execute();
      await queueToFollowers(ctx, trx, username, TYPES.postUpdate, { post });
      await queueMentions(ctx, trx, username, post, mentioned.filter((a) => !before.has(a)));
    });
    ctx.outbox.wake();
    ctx.fanout.wake();
    void ctx.live.feedChanged(localAddressText(ctx.site, username));
    const counts = (await postCounts(ctx.db, [id])).get(id)!;
    return { ...post, author: localAddressText(ctx.site, username), url: `${ctx.config.origin}/@${username}/${id}`, likeCount: counts.likes, commentCount: counts.comments };
  });

  contractRoute(app, 'deletePost', async (request) => {
    const username = await requireUser(ctx, request);
    const id = request.params.id;
    const post = await ctx.db.selectFrom('posts').select(['author']).where('id', '=', id).executeTakeFirst();
    if (!post) throw notFound(`post ${id.slice(0, 64)}`);
    if (post.author !== username) throw forbidden('this post belongs to another user');
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('posts').where('id', '=', id).execute();
      await trx.updateTable('users').set({ pinned_post: null }).where('username', '=', username).where('pinned_post', '=', id).execute();
      await queueToFollowers(ctx, trx, username, TYPES.postDelete, { post: { id } });
    });
    ctx.outbox.wake();
    ctx.fanout.wake();
    void ctx.live.feedChanged(localAddressText(ctx.site, username));
  });

  /** One of my posts at the top of my profile (one at a time: pinning another replaces it). */
  contractRoute(app, 'pin', async (request) => {
    const username = await requireUser(ctx, request);
    const { id } = request.body;
    const post = await ctx.db.selectFrom('posts').select('author').where('id', '=', id).executeTakeFirst();
    if (!post) throw notFound(`post ${id}`);
    if (post.author !== username) throw forbidden('you can pin only your own posts');
    await ctx.db.updateTable('users').set({ pinned_post: id }).where('username', '=', username).execute();
    return { pinnedPost: id };
  });

  contractRoute(app, 'unpin', async (request) => {
    const username = await requireUser(ctx, request);
    await ctx.db.updateTable('users').set({ pinned_post: null }).where('username', '=', username).execute();
  });
};
