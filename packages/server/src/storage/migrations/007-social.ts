import type { Kysely } from 'kysely';

/**
 * The social web (issue 10):
 * - posts and remote_posts remember when they were last edited (post.update, PROTOCOL.md §5);
 * - remote_posts keep the like and comment counts the author's site last told us;
 * - my_likes: the posts each local user likes, wherever they live, so a feed shows "liked" and
 *   the button can undo it;
 * - remote_profiles: names and pictures of people on other sites, so pages show a person, not an
 *   address (refreshed when my site fetches their profile).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('posts').addColumn('edited_at', 'bigint').execute();
  await db.schema.alterTable('remote_posts').addColumn('edited_at', 'bigint').execute();
  await db.schema.alterTable('remote_posts').addColumn('like_count', 'integer').execute();
  await db.schema.alterTable('remote_posts').addColumn('comment_count', 'integer').execute();
  await db.schema
    .createTable('my_likes')
    .addColumn('username', 'text', (c) => c.notNull().references('users.username').onDelete('cascade'))
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('post_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('my_likes_pk', ['username', 'author', 'post_id'])
    .execute();
  await db.schema
    .createTable('remote_profiles')
    .addColumn('address', 'text', (c) => c.primaryKey())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('avatar_url', 'text', (c) => c.notNull())
    .addColumn('fetched_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('remote_profiles').ifExists().execute();
  await db.schema.dropTable('my_likes').ifExists().execute();
  await db.schema.alterTable('remote_posts').dropColumn('comment_count').execute();
  await db.schema.alterTable('remote_posts').dropColumn('like_count').execute();
  await db.schema.alterTable('remote_posts').dropColumn('edited_at').execute();
  await db.schema.alterTable('posts').dropColumn('edited_at').execute();
}
