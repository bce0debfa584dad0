import type { Kysely } from 'kysely';

/**
 * Several instances of one site on one PostgreSQL (docs/SCALING.md): an outbox row taken for
 * delivery names the instance that took it, and each instance that holds claims says it is alive
 * every few seconds. A row claimed by an instance that stopped saying so is free again, so
 * another instance delivers it (the receiver takes each envelope id once).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('claimed_by', 'text').execute();
  await db.schema
    .createTable('outbox_instances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('outbox_instances').ifExists().execute();
  await db.schema.alterTable('outbox').dropColumn('claimed_by').execute();
}
