import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';

/**
 * Time that clock jumps cannot break (PROTOCOL.md §5, docs/DEPLOY.md):
 * - site_meta holds the site clock (monotonic, carried across restarts) and the post sequence;
 * - outbox bodies live in outbox_bodies, and outbox.size is each one's size (see below);
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
  // Envelope bodies move to a table of their own. In one row with the small columns, a 15 KB body
  // pushed every column stored after it into overflow pages, so each scan of the outbox (every
  // wake of the worker) read all queued envelopes: with thousands queued, the site stalled for
  // hundreds of milliseconds. The outbox keeps each body's size, to wait for room on a link.
  await db.schema
    .createTable('outbox_bodies')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('body', 'text', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('outbox').addColumn('size', 'integer').execute();
  // Rows taken for delivery are claimed until their outcome is written: the worker's reads then
  // skip what is in flight instead of reading it again at every wake.
  await db.schema.alterTable('outbox').addColumn('claimed_until', 'bigint').execute();
  await sql`insert into outbox_bodies (seq, body) select seq, body from outbox`.execute(db);
  await (dialectOf(db) === 'postgres' ? sql`update outbox set size = octet_length(body)` : sql`update outbox set size = length(cast(body as blob))`).execute(db);
  await db.schema.alterTable('outbox').dropColumn('body').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('body', 'text').execute();
  await sql`update outbox set body = (select body from outbox_bodies where outbox_bodies.seq = outbox.seq)`.execute(db);
  await db.schema.dropTable('outbox_bodies').execute();
  await db.schema.alterTable('outbox').dropColumn('claimed_until').execute();
  await db.schema.alterTable('outbox').dropColumn('size').execute();
  await db.schema.alterTable('following').dropColumn('pull_seq').execute();
  await db.schema.dropIndex('posts_author_seq').execute();
  await db.schema.alterTable('posts').dropColumn('seq').execute();
  await db.schema.dropTable('site_meta').execute();
}
