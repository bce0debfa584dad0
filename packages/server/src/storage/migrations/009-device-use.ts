import type { Kysely } from 'kysely';

/** When each device last used the site (a browser says so when it opens the app), for "last used" and for clearing out browsers no longer used. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('devices').addColumn('last_used_at', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('devices').dropColumn('last_used_at').execute();
}
