import type { Kysely } from 'kysely';

/**
 * Time that clock jumps cannot break (PROTOCOL.md §5, docs/DEPLOY.md):
 * - site_meta holds the site clock (monotonic, carried across restarts) and the post sequence;
 * - posts.seq numbers this site's posts in the order they were made, whatever the wall clock
 *   said, and following.pull_seq is how far a follower has pulled an author by that number.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('site_meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('posts').addColumn('seq', 'bigint').execute();
  // Existing posts get their sequence in the order they were made.
  const rows = await db.selectFrom('posts').select(['id', 'author']).orderBy('created_at').orderBy('id').execute();
  let seq = 0;
  for (const row of rows) await db.updateTable('posts').set({ seq: ++seq }).where('id', '=', row.id).where('author', '=', row.author).execute();
  await db.insertInto('site_meta').values({ key: 'post_seq', value: String(seq) }).execute();
  await db.schema.createIndex('posts_author_seq').on('posts').columns(['author', 'seq']).execute();
  await db.schema.alterTable('following').addColumn('pull_seq', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('following').dropColumn('pull_seq').execute();
  await db.schema.dropIndex('posts_author_seq').execute();
  await db.schema.alterTable('posts').dropColumn('seq').execute();
  await db.schema.dropTable('site_meta').execute();
}
