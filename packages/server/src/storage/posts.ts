import { sql } from 'kysely';
import type { ExpressionBuilder, Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Page cursors are "<createdAtMs>_<id>": posts are ordered newest first by (created_at, id),
 * so a cursor stays valid while posts are added or removed around it.
 */
export function encodeCursor(createdAt: number, id: string): string {
  return `${createdAt}_${id}`;
}

export function decodeCursor(cursor: string): { createdAt: number; id: string } | null {
  const match = /^(\d{1,16})_([A-Za-z0-9_-]{1,64})$/.exec(cursor);
  return match ? { createdAt: Number(match[1]), id: match[2]! } : null;
}

export interface PostRow {
  id: string;
  author: string;
  text: string;
  created_at: number;
}

export async function postCounts(db: Kysely<Database>, ids: string[]): Promise<Map<string, { likes: number; comments: number }>> {
  const counts = new Map(ids.map((id) => [id, { likes: 0, comments: 0 }]));
  if (ids.length === 0) return counts;
  const likes = await db.selectFrom('likes').select(['post_id', (eb) => eb.fn.countAll<number>().as('n')]).where('post_id', 'in', ids).groupBy('post_id').execute();
  const comments = await db.selectFrom('comments').select(['post_id', (eb) => eb.fn.countAll<number>().as('n')]).where('post_id', 'in', ids).groupBy('post_id').execute();
  for (const row of likes) counts.get(row.post_id)!.likes = Number(row.n);
  for (const row of comments) counts.get(row.post_id)!.comments = Number(row.n);
  return counts;
}

/** `WHERE (created_at, id) < cursor`, for any table with those two columns. */
export function olderThan<T extends 'posts' | 'remote_posts'>(cursor: { createdAt: number; id: string }) {
  return (eb: ExpressionBuilder<Database, T>) => {
    const e = eb as unknown as ExpressionBuilder<Database, 'posts'>;
    return e.or([e('created_at', '<', cursor.createdAt), e.and([e('created_at', '=', cursor.createdAt), e('id', '<', cursor.id)])]);
  };
}

/** The next number of this site's post sequence, taken in the caller's transaction. */
export async function nextPostSeq(trx: Kysely<Database>): Promise<number> {
  // One statement that reads and writes: with PostgreSQL, posts made at once by two requests (or
  // two instances) are in concurrent transactions, and a read followed by a write would give both
  // the same number. The row lock makes the second wait for the first to commit.
  const row = await trx
    .insertInto('site_meta')
    .values({ key: 'post_seq', value: '1' })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: sql<string>`cast(cast(site_meta.value as bigint) + 1 as text)` }))
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}
