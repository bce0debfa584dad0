import type { Attachment, PostDetail as ApiPostDetail, PostView as ApiPostView, SiteName } from '@hearth/protocol';

/** A local post as public pages show it: with its link and counts always present. */
export type PostView = ApiPostView & { url: string; likeCount: number; commentCount: number };
export type PostDetail = ApiPostDetail & PostView;
import type { Db } from './db.js';
import { encodeCursor, olderThan, postCounts } from './posts.js';
import { localAddressText } from './users.js';

/** A person's public posts and one post with its comments: what the JSON API and the HTML pages both show. */

/** Stored attachments (a JSON column) as the API shows them: absent when there are none. */
export function attachmentsOf(json: string | null): { attachments?: Attachment[] } {
  return json ? { attachments: JSON.parse(json) as Attachment[] } : {};
}

export interface Where {
  site: SiteName;
  origin: string;
}

export async function listPublicPosts(
  db: Db,
  where: Where,
  username: string,
  page: { limit: number; before?: { createdAt: number; id: string }; since?: number; afterSeq?: number },
): Promise<{ items: PostView[]; next: string | null }> {
  let q = db.selectFrom('posts').select(['id', 'text', 'created_at', 'attachments', 'seq', 'edited_at', 'content_warning']).where('author', '=', username);
  if (page.before) q = q.where(olderThan(page.before));
  if (page.since !== undefined) q = q.where('created_at', '>', page.since);
  // By sequence: what a follower has not pulled yet, oldest first, whatever the posts' dates say.
  if (page.afterSeq !== undefined) q = q.where('seq', '>', page.afterSeq);
  const rows = await (page.afterSeq !== undefined ? q.orderBy('seq', 'asc') : q.orderBy('created_at', 'desc').orderBy('id', 'desc')).limit(page.limit).execute();
  const author = localAddressText(where.site, username);
  const counts = await postCounts(db, rows.map((r) => r.id));
  const items = rows.map((r) => ({
    id: r.id,
    text: r.text,
    author,
    createdAt: new Date(Number(r.created_at)).toISOString(),
    ...(r.edited_at ? { editedAt: new Date(Number(r.edited_at)).toISOString() } : {}),
    ...(r.content_warning ? { contentWarning: r.content_warning } : {}),
    url: `${where.origin}/@${username}/${r.id}`,
    likeCount: counts.get(r.id)!.likes,
    commentCount: counts.get(r.id)!.comments,
    ...attachmentsOf(r.attachments),
    ...(r.seq === null || r.seq === undefined ? {} : { seq: Number(r.seq) }),
  }));
  const last = rows[rows.length - 1];
  if (page.afterSeq !== undefined) return { items, next: null };
  return { items, next: rows.length === page.limit && last ? encodeCursor(Number(last.created_at), last.id) : null };
}

export async function getPublicPost(db: Db, where: Where, username: string, id: string): Promise<PostDetail | undefined> {
  const post = await db.selectFrom('posts').selectAll().where('id', '=', id).where('author', '=', username).executeTakeFirst();
  if (!post) return undefined;
  const comments = await db.selectFrom('comments').selectAll().where('post_id', '=', post.id).orderBy('created_at').orderBy('id').execute();
  const likes = await db.selectFrom('likes').select('author').where('post_id', '=', post.id).orderBy('created_at').execute();
  return {
    id: post.id,
    text: post.text,
    author: localAddressText(where.site, username),
    createdAt: new Date(Number(post.created_at)).toISOString(),
    ...(post.edited_at ? { editedAt: new Date(Number(post.edited_at)).toISOString() } : {}),
    ...(post.content_warning ? { contentWarning: post.content_warning } : {}),
    url: `${where.origin}/@${username}/${post.id}`,
    likeCount: likes.length,
    likes: likes.map((l) => l.author),
    commentCount: comments.length,
    ...attachmentsOf(post.attachments),
    comments: comments.map((c) => ({ id: c.id, author: c.author, text: c.text, createdAt: new Date(Number(c.created_at)).toISOString(), ...(c.reply_to ? { replyTo: c.reply_to } : {}) })),
  };
}
