import { formatAddress, sameSite, siteFromUrl, TYPES, type Address, type Attachment, type Envelope, type EnvelopeType, type PostData, type SiteName } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { ApiError } from '../errors.js';
import { addNotification } from '../storage/notifications.js';
import { recordDm } from '../storage/dms.js';
import { mayCall } from '../storage/calls.js';
import type { Database } from '../storage/schema.js';
import type { LocalUserCache } from '../storage/local-users.js';
import { compiledOnce } from '../storage/compiled.js';
import { firstInTransaction } from '../storage/per-transaction.js';

/**
 * One handler per envelope type. Each runs inside the inbox transaction that also records the
 * envelope id, so an envelope's effects and its "seen" mark commit together or not at all.
 * Handlers check before they write, and throw an ApiError (never retryable) for envelopes that
 * make no sense here, such as a comment on a post that does not exist.
 */
export interface HandlerContext {
  /** In-memory answers to per-envelope lookups (see LocalUserCache). */
  users: LocalUserCache;
}

export type Handler<T extends EnvelopeType = EnvelopeType> = (trx: Kysely<Database>, env: Envelope<T>, now: number, hc: HandlerContext) => Promise<void>;

const unknownPost = (id: string) => new ApiError('unknown_post', `post ${id} does not exist on this site`, { status: 404 });

async function ownPost(trx: Kysely<Database>, postId: string, author: string): Promise<boolean> {
  const row = await trx.selectFrom('posts').select('id').where('id', '=', postId).where('author', '=', author).executeTakeFirst();
  return row !== undefined;
}

/**
 * DMs from one person that arrive together (one group commit: a device catching up, a batch) make
 * one "new message" notification, as a chat counts a conversation with news once, not each
 * message: a hundred at once were a hundred notifications, and a hundred on the unread count.
 */
const firstMessageFrom = firstInTransaction();

export const HANDLERS: { [T in EnvelopeType]: Handler<T> } = {
  [TYPES.follow]: async (trx, env, now) => {
    const follower = formatAddress(env.from);
    const result = await trx
      .insertInto('followers')
      .values({ username: env.to.username, follower, created_at: now })
      .onConflict((oc) => oc.columns(['username', 'follower']).doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0) > 0) await addNotification(trx, env.to.username, 'follower', { from: follower }, now);
  },
  [TYPES.unfollow]: async (trx, env) => {
    await trx.deleteFrom('followers').where('username', '=', env.to.username).where('follower', '=', formatAddress(env.from)).execute();
  },
  [TYPES.followerRemove]: async (trx, env) => {
    // The sender no longer has this user as a follower (they removed or blocked them): this site
    // stops following, so both sites agree. Nothing is shown; the person may follow again.
    await trx.deleteFrom('following').where('username', '=', env.to.username).where('target', '=', formatAddress(env.from)).execute();
  },
  [TYPES.postCreate]: async (trx, env, now, hc) => {
    const author = formatAddress(env.from);
    // Only keep posts that someone here asked for: nobody can fill this site's disk by pushing.
    if (!(await hc.users.isFollowed(author, trx))) return;
    await upsertRemotePost(trx, env.from, env.data.post, now);
  },
  [TYPES.postUpdate]: async (trx, env, now, hc) => {
    // Only the author's own post changes: the row is keyed by the signed sender, so nobody can
    // edit someone else's post by naming its id.
    if (!(await hc.users.isFollowed(formatAddress(env.from), trx))) return;
    await upsertRemotePost(trx, env.from, env.data.post, now);
  },
  [TYPES.postDelete]: async (trx, env, now) => {
    const author = formatAddress(env.from);
    // The tombstone outlives the post: a create that arrives later (reordered, pulled, replayed) stays deleted.
    await trx.insertInto('remote_post_tombstones').values({ author, id: env.data.post.id, deleted_at: now }).onConflict((oc) => oc.columns(['author', 'id']).doNothing()).execute();
    await trx.deleteFrom('remote_posts').where('author', '=', author).where('id', '=', env.data.post.id).execute();
  },
  [TYPES.mention]: async (trx, env, now) => {
    // A mention only notifies: nothing of the post is kept but its opening words.
    await addNotification(trx, env.to.username, 'mention', { from: formatAddress(env.from), post: env.data.post.id, excerpt: env.data.post.excerpt }, now);
  },
  [TYPES.repostCreate]: async (trx, env, now, hc) => {
    const sharer = formatAddress(env.from);
    const { author, id } = env.data.post;
    // To the original's author: a notification (their post must exist here).
    if (author === formatAddress(env.to)) {
      if (!(await ownPost(trx, id, env.to.username))) throw unknownPost(id);
      await addNotification(trx, env.to.username, 'repost', { from: sharer, post: id }, now);
      return;
    }
    // To a follower's site: a shared post for the feed, if someone here follows the sharer. The
    // post itself is read from its author's site afterwards (Context.announce), not from this envelope.
    if (!(await hc.users.isFollowed(sharer, trx))) return;
    await trx
      .insertInto('shared_posts')
      .values({ sharer, author, post_id: id, shared_at: now })
      .onConflict((oc) => oc.columns(['sharer', 'author', 'post_id']).doNothing())
      .execute();
  },
  [TYPES.repostDelete]: async (trx, env) => {
    await trx.deleteFrom('shared_posts').where('sharer', '=', formatAddress(env.from)).where('author', '=', env.data.post.author).where('post_id', '=', env.data.post.id).execute();
  },
  [TYPES.commentCreate]: async (trx, env, now) => {
    const postId = env.data.post.id;
    if (!(await ownPost(trx, postId, env.to.username))) throw unknownPost(postId);
    const author = formatAddress(env.from);
    const existing = await trx.selectFrom('comments').select(['author']).where('id', '=', env.data.comment.id).executeTakeFirst();
    if (existing) {
      if (existing.author !== author) throw new ApiError('id_taken', 'a comment with this id already exists', { status: 409 });
      return;
    }
    const { comment } = env.data;
    const tombstone = await trx.selectFrom('comment_tombstones').select('id').where('id', '=', comment.id).where('author', '=', author).executeTakeFirst();
    if (tombstone) return; // deleted by its author already: a late or replayed create changes nothing
    if (comment.replyTo) {
      // A reply answers a comment of the same post: anything else is refused, and nothing is kept.
      const parent = await trx.selectFrom('comments').select('id').where('id', '=', comment.replyTo).where('post_id', '=', postId).executeTakeFirst();
      if (!parent) throw new ApiError('unknown_comment', `comment ${comment.replyTo} is not a comment on post ${postId}`, { status: 404 });
    }
    await trx.insertInto('comments').values({ id: comment.id, post_id: postId, author, text: comment.text, created_at: Date.parse(comment.createdAt), reply_to: comment.replyTo ?? null }).execute();
    await addNotification(trx, env.to.username, 'comment', { from: author, post: postId, comment: comment.id }, now);
  },
  [TYPES.commentDelete]: async (trx, env, now) => {
    const author = formatAddress(env.from);
    const { comment, post } = env.data;
    const taken = await trx.selectFrom('comments').select('author').where('id', '=', comment.id).executeTakeFirst();
    if (taken && taken.author !== author) return; // someone else's comment: nothing to delete, nothing to remember
    await trx.insertInto('comment_tombstones').values({ id: comment.id, post_id: post.id, author, deleted_at: now }).onConflict((oc) => oc.column('id').doNothing()).execute();
    await trx.deleteFrom('comments').where('id', '=', comment.id).where('post_id', '=', post.id).where('author', '=', author).execute();
  },
  [TYPES.likeCreate]: async (trx, env, now) => {
    const postId = env.data.post.id;
    if (!(await ownPost(trx, postId, env.to.username))) throw unknownPost(postId);
    const author = formatAddress(env.from);
    const result = await trx
      .insertInto('likes')
      .values({ post_id: postId, author, created_at: now })
      .onConflict((oc) => oc.columns(['post_id', 'author']).doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0) > 0) await addNotification(trx, env.to.username, 'like', { from: author, post: postId }, now);
  },
  [TYPES.likeDelete]: async (trx, env) => {
    await trx.deleteFrom('likes').where('post_id', '=', env.data.post.id).where('author', '=', formatAddress(env.from)).execute();
  },
  [TYPES.dm]: async (trx, env, now) => {
    const peer = formatAddress(env.from);
    // The backend keeps ciphertext only; it cannot read or check what is inside. It can still tell
    // one sealed message from another by its ephemeral key, so a replay in a new envelope is refused.
    await recordDm(trx, { username: env.to.username, envelopeId: env.id, direction: 'in', peer, message: env.data.message, now });
    if (firstMessageFrom(trx, `${env.to.username} ${peer}`)) await addNotification(trx, env.to.username, 'message', { from: peer }, now);
  },
  // Relay envelopes never reach a handler: the inbox passes them to the relay service (PROTOCOL.md §9).
  [TYPES.relay]: async () => {
    throw new ApiError('invalid_envelope', 'a relay envelope is passed on, not stored', { status: 400 });
  },
  [TYPES.relayFetch]: async () => {
    throw new ApiError('invalid_envelope', 'a relayed fetch is answered, not stored', { status: 400 });
  },
  [TYPES.callSignal]: async (trx, env) => {
    // Calls only from people the callee follows or allows (the caller's site checks the other
    // half for the caller). Nothing is stored: the signal goes to the callee's open pages.
    if (!(await mayCall(trx, env.to.username, formatAddress(env.from)))) {
      throw new ApiError('not_allowed', `${env.to.username} takes calls only from people they follow or allow`, { status: 403 });
    }
  },
};

/** Call signals older than this are dropped: a ring from a minute ago is not worth answering. */
export const CALL_SIGNAL_MAX_AGE_MS = 60_000;

/**
 * Attachments are kept only when they point at the author's own site: a push cannot make this
 * site's pages load images from a third party the author does not control.
 */
export function attachmentsJson(attachments: Attachment[] | undefined, author: SiteName): string | null {
  const own = (attachments ?? []).filter((a) => {
    try {
      return sameSite(siteFromUrl(a.url), author);
    } catch {
      return false;
    }
  });
  return own.length ? JSON.stringify(own) : null;
}

// A post pushed to N followers here arrives N times (one envelope each), so these run for every
// envelope of a fan-out: built once (storage/compiled.ts) rather than for each.
const tombstoneOf = compiledOnce((db, v: { author: string; id: string }) => db.selectFrom('remote_post_tombstones').select('id').where('author', '=', v.author).where('id', '=', v.id));
const storedEditOf = compiledOnce((db, v: { author: string; id: string }) => db.selectFrom('remote_posts').select(['edited_at']).where('author', '=', v.author).where('id', '=', v.id));
const insertRemotePost = compiledOnce(
  (db, v: { author: string; id: string; text: string; createdAt: number; receivedAt: number; attachments: string | null; editedAt: number | null; contentWarning: string | null; likeCount: number | null; commentCount: number | null }) =>
    db
      .insertInto('remote_posts')
      .values({ author: v.author, id: v.id, text: v.text, created_at: v.createdAt, received_at: v.receivedAt, attachments: v.attachments, edited_at: v.editedAt, content_warning: v.contentWarning, like_count: v.likeCount, comment_count: v.commentCount })
      .onConflict((oc) => oc.columns(['author', 'id']).doNothing()),
);

/** Stores (or refreshes) a followed author's post, pushed or pulled. */
export async function upsertRemotePost(trx: Kysely<Database>, author: Address, post: PostData, now: number, counts?: { likeCount?: number; commentCount?: number }): Promise<void> {
  const who = formatAddress(author);
  const deleted = await tombstoneOf(trx, { author: who, id: post.id });
  if (deleted.rows.length > 0) return;
  const attachments = attachmentsJson(post.attachments, author);
  const editedAt = post.editedAt ? Date.parse(post.editedAt) : null;
  const known = (await storedEditOf(trx, { author: who, id: post.id })).rows[0];
  if (known) {
    const countsSet = {
      ...(counts?.likeCount !== undefined ? { like_count: counts.likeCount } : {}),
      ...(counts?.commentCount !== undefined ? { comment_count: counts.commentCount } : {}),
    };
    // An older version (a reordered edit, a pull of a page fetched before the edit) never
    // replaces a newer one; counts are refreshed either way.
    const newer = editedAt !== null && (known.edited_at === null || known.edited_at === undefined || editedAt > Number(known.edited_at));
    const set = newer ? { text: post.text, attachments, edited_at: editedAt, content_warning: post.contentWarning ?? null, ...countsSet } : countsSet;
    if (Object.keys(set).length > 0) await trx.updateTable('remote_posts').set(set).where('author', '=', who).where('id', '=', post.id).execute();
    return;
  }
  await insertRemotePost(trx, {
    author: who,
    id: post.id,
    text: post.text,
    createdAt: Date.parse(post.createdAt),
    receivedAt: now,
    attachments,
    editedAt,
    contentWarning: post.contentWarning ?? null,
    likeCount: counts?.likeCount ?? null,
    commentCount: counts?.commentCount ?? null,
  });
}
