import type { NotificationView, SiteName } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { peopleByAddress } from './feed.js';
import { compiledOnce } from './compiled.js';
import { perTransaction } from './per-transaction.js';
import type { Database } from './schema.js';

export type NotificationKind = 'follower' | 'comment' | 'like' | 'mention' | 'repost' | 'message' | 'delivery_failed' | 'clock_skew';

export async function addNotification(db: Kysely<Database>, username: string, kind: NotificationKind, data: Record<string, unknown>, now: number): Promise<void> {
  // Someone I muted does not reach my notifications (and is not told).
  if (typeof data.from === 'string' && (await muted(db, { username, address: data.from }))) return;
  await insertNotification(db, { username, kind, data: JSON.stringify(data), now });
}

// Both run for every DM, comment and like that arrives.
const selectMuted = compiledOnce((db, v: { username: string; address: string }) => db.selectFrom('mutes').select('address').where('username', '=', v.username).where('address', '=', v.address));
const muted = perTransaction((v: { username: string; address: string }) => `${v.username} ${v.address}`, async (db, v: { username: string; address: string }) => (await selectMuted(db, v)).rows.length > 0);
const insertNotification = compiledOnce((db, v: { username: string; kind: NotificationKind; data: string; now: number }) =>
  db.insertInto('notifications').values({ username: v.username, kind: v.kind, data: v.data, created_at: v.now, read_at: null }),
);

/** My notifications, newest first, older than `before` (a seq) when given. */
export function newestNotifications(db: Kysely<Database>, username: string, before: number | undefined, limit: number) {
  return db
    .selectFrom('notifications')
    .selectAll()
    .where('username', '=', username)
    .$if(before !== undefined, (q) => q.where('seq', '<', before!))
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute();
}

export async function unreadNotifications(db: Kysely<Database>, username: string): Promise<number> {
  const row = await db.selectFrom('notifications').select((eb) => eb.fn.countAll<number>().as('n')).where('username', '=', username).where('read_at', 'is', null).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Notifications as a page says them: who (name and picture), and the post and comment they are
 * about as those read now, so "alice commented on *Tea at four*: 'count me in'" needs no more requests.
 */
export async function describeNotifications(db: Kysely<Database>, site: SiteName, username: string, rows: Array<{ seq: number; kind: string; data: string; created_at: number; read_at: number | null }>): Promise<NotificationView[]> {
  const parsed = rows.map((r) => ({ row: r, data: JSON.parse(r.data) as Record<string, unknown> }));
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const postIds = [...new Set(parsed.map((p) => text(p.data.post)).filter((id): id is string => id !== undefined))];
  const commentIds = [...new Set(parsed.map((p) => text(p.data.comment)).filter((id): id is string => id !== undefined))];
  const posts = new Map(postIds.length ? (await db.selectFrom('posts').select(['id', 'text']).where('author', '=', username).where('id', 'in', postIds).execute()).map((p) => [p.id, p.text]) : []);
  const comments = new Map(commentIds.length ? (await db.selectFrom('comments').select(['id', 'text']).where('id', 'in', commentIds).execute()).map((c) => [c.id, c.text]) : []);
  const people = await peopleByAddress(db, site, [...new Set(parsed.map((p) => text(p.data.from)).filter((a): a is string => a !== undefined))]);
  return parsed.map(({ row, data }) => {
    const postId = text(data.post);
    const commentId = text(data.comment);
    const from = text(data.from);
    return {
      seq: Number(row.seq),
      kind: row.kind,
      data,
      createdAt: new Date(Number(row.created_at)).toISOString(),
      read: row.read_at !== null,
      ...(from ? { actor: people.get(from) ?? { address: from } } : {}),
      ...(postId && posts.has(postId) ? { post: { id: postId, text: posts.get(postId)! } } : {}),
      ...(commentId && comments.has(commentId) ? { comment: { id: commentId, text: comments.get(commentId)! } } : {}),
    };
  });
}
