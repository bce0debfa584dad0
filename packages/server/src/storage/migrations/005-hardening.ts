import type { Kysely } from 'kysely';

/**
 * Protocol hardening (PROTOCOL.md §3, §4, §6):
 * - users.site_key_rotation: the notice, signed by the old site key, published after a rotation;
 * - tombstones for deleted remote posts and comments, so a delete that arrives before its create
 *   (or a replayed create after the delete) never brings the item back;
 * - dm_messages.message_key: the DM's ephemeral key, unique per account, so the same sealed
 *   message re-sent in another envelope is refused instead of listed twice.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('site_key_rotation', 'text').execute();
  await db.schema
    .createTable('remote_post_tombstones')
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('remote_post_tombstones_pk', ['author', 'id'])
    .execute();
  await db.schema
    .createTable('comment_tombstones')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('post_id', 'text', (c) => c.notNull())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('dm_messages').addColumn('message_key', 'text').execute();
  await db.schema.createIndex('dm_messages_message_once').on('dm_messages').columns(['username', 'message_key']).unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('dm_messages_message_once').execute();
  await db.schema.alterTable('dm_messages').dropColumn('message_key').execute();
  await db.schema.dropTable('comment_tombstones').execute();
  await db.schema.dropTable('remote_post_tombstones').execute();
  await db.schema.alterTable('users').dropColumn('site_key_rotation').execute();
}
