import type { Kysely } from 'kysely';

/**
 * A post to many followers reaches one follower per site in its own transaction, and the rest in
 * steps after its commit (outbox/fanout.ts). The job names what to send, who already has it
 * (`skip`), and the last follower done (`after`); each step commits its envelopes together with
 * the new position, so a crash resumes where the last step ended, sending nothing twice.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('fanout_jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('skip', 'text', (c) => c.notNull())
    .addColumn('after', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('fanout_jobs_order').on('fanout_jobs').columns(['created_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('fanout_jobs').ifExists().execute();
}
