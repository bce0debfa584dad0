import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export type NotificationKind = 'follower' | 'comment' | 'like' | 'message' | 'delivery_failed' | 'clock_skew';

export async function addNotification(db: Kysely<Database>, username: string, kind: NotificationKind, data: Record<string, unknown>, now: number): Promise<void> {
  await db.insertInto('notifications').values({ username, kind, data: JSON.stringify(data), created_at: now, read_at: null }).execute();
}
