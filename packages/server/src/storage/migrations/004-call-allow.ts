import type { Kysely } from 'kysely';

/** People a user takes calls from without following them (besides everyone they follow). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('call_allow')
    .addColumn('username', 'text', (c) => c.notNull().references('users.username').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('call_allow_pk', ['username', 'address'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('call_allow').execute();
}
