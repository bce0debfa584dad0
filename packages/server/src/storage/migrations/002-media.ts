import type { Kysely } from 'kysely';

/** Uploaded images, and the attachments of local and remote posts (JSON arrays). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('media')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull().references('users.username').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('file', 'text', (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('posts').addColumn('attachments', 'text').execute();
  await db.schema.alterTable('remote_posts').addColumn('attachments', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('remote_posts').dropColumn('attachments').execute();
  await db.schema.alterTable('posts').dropColumn('attachments').execute();
  await db.schema.dropTable('media').execute();
}
