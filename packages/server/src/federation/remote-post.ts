import { CommentSchema, formatAddress, PostSchema, type Address } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../storage/schema.js';
import type { Directory } from './directory.js';
import { upsertRemotePost } from './handlers.js';

const count = z.number().int().min(0).max(1e9).optional();
/** A post as another site's public API shows it (extra fields allowed, ours checked). */
export const RemotePostSchema = PostSchema.extend({ author: z.string().max(300), likeCount: count, commentCount: count }).loose();
export const RemotePostDetailSchema = RemotePostSchema.extend({
  likes: z.array(z.string().max(300)).max(10_000).default([]),
  comments: z.array(CommentSchema.extend({ author: z.string().max(300) }).loose()).max(10_000).default([]),
});
export type RemotePostDetail = z.infer<typeof RemotePostDetailSchema>;

/**
 * One post read from its author's own site (through the SSRF guard), checked to be that author's:
 * what a repost points at is taken from the author, never from the word of whoever shared it.
 * Undefined when the author's site says there is no such post.
 */
export async function fetchRemotePost(directory: Directory, author: Address, id: string): Promise<RemotePostDetail | undefined> {
  let raw: unknown;
  try {
    raw = await directory.fetchJson(`${directory.origin(author)}/api/users/${author.username}/posts/${encodeURIComponent(id)}`);
  } catch (error) {
    if ((error as { code?: string }).code === 'unknown_user') return undefined; // a 404: no such post (or person)
    throw error;
  }
  const parsed = RemotePostDetailSchema.safeParse(raw);
  if (!parsed.success || parsed.data.author !== formatAddress(author) || parsed.data.id !== id) return undefined;
  return parsed.data;
}

/** Keeps a copy of a remote post (for a repost in a feed), with its counts. */
export async function keepRemotePost(db: Kysely<Database>, author: Address, post: RemotePostDetail, now: number): Promise<void> {
  await db.transaction().execute((trx) => upsertRemotePost(trx, author, post, now, { likeCount: post.likes.length, commentCount: post.comments.length }));
}
