import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** A user's rows of a sequenced table (DMs, notifications) after a sequence number, oldest first. */
export function rowsAfter<T extends 'dm_messages' | 'notifications'>(db: Kysely<Database>, table: T, username: string, after: number, limit: number) {
  const q = db as unknown as Kysely<Pick<Database, 'dm_messages'>>;
  return q
    .selectFrom(table as 'dm_messages')
    .selectAll()
    .where('username', '=', username)
    .where('seq', '>', after)
    .orderBy('seq')
    .limit(limit)
    .execute() as unknown as Promise<Array<Database[T] & { seq: number }>>;
}
