import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';

/**
 * Full-text search on PostgreSQL: what FTS5 (migration 008) does on SQLite, as GIN indexes over
 * each post's words (the `simple` configuration: no stemming, any language). Nothing to do on SQLite.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`create index posts_words on posts using gin (to_tsvector('simple', text))`.execute(db);
  await sql`create index remote_posts_words on remote_posts using gin (to_tsvector('simple', text))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`drop index if exists posts_words`.execute(db);
  await sql`drop index if exists remote_posts_words`.execute(db);
}
