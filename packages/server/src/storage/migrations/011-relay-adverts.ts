import type { Kysely } from 'kysely';

/**
 * relay_adverts: the last verified relay advert of each site this one relays to (PROTOCOL.md §9):
 * its relay key and relays. Kept on disk because a site that is blocked can only be reached by
 * sealing for its relay key, and after a restart that key may no longer be fetchable at all (when
 * the relays cannot reach the site either, only a second relay can).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('relay_adverts')
    .addColumn('site', 'text', (c) => c.primaryKey())
    .addColumn('relay_key', 'text', (c) => c.notNull())
    .addColumn('relays', 'text', (c) => c.notNull())
    .addColumn('fetched_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('relay_adverts').ifExists().execute();
}
