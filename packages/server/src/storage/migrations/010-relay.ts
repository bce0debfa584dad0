import type { Kysely } from 'kysely';

/**
 * Friends relay (issue 11, PROTOCOL.md §9):
 * - relay_friends: the people each user relays for, with their limits;
 * - relay_stats: what was relayed per friend and day (counts and bytes, never contents);
 * - my_relays: the relays each user trusts for their own traffic, in order (also advertised in
 *   the site's discovery document as the way to reach this site);
 * - relay_paths: per destination site, the path that last worked (direct, or a relay) and when
 *   the direct path is probed again;
 * - users.relay_mutuals: whether a user also relays for everyone they follow who follows them
 *   back (off unless they turn it on).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('relay_mutuals', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema
    .createTable('relay_friends')
    .addColumn('owner', 'text', (c) => c.notNull().references('users.username').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('per_minute', 'integer', (c) => c.notNull())
    .addColumn('bytes_per_day', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('relay_friends_pk', ['owner', 'address'])
    .execute();
  await db.schema
    .createTable('relay_stats')
    .addColumn('owner', 'text', (c) => c.notNull().references('users.username').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('envelopes', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('refused', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('relay_stats_pk', ['owner', 'address', 'day'])
    .execute();
  await db.schema
    .createTable('my_relays')
    .addColumn('username', 'text', (c) => c.notNull().references('users.username').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('my_relays_pk', ['username', 'address'])
    .execute();
  await db.schema
    .createTable('relay_paths')
    .addColumn('dest', 'text', (c) => c.primaryKey())
    .addColumn('via', 'text')
    .addColumn('since', 'bigint', (c) => c.notNull())
    .addColumn('direct_failures', 'integer', (c) => c.notNull())
    .addColumn('next_probe_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['relay_paths', 'my_relays', 'relay_stats', 'relay_friends']) await db.schema.dropTable(table).ifExists().execute();
  await db.schema.alterTable('users').dropColumn('relay_mutuals').execute();
}
