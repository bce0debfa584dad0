import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';

/**
 * More of the social web (issue 10):
 * - content warnings on posts (mine and those I receive);
 * - one pinned post per user;
 * - mutes: people I hide without telling them;
 * - replies: a comment may answer another comment of the same post;
 * - reposts: posts I share with my followers, and posts shared into my feed by people I follow;
 * - full-text search over my site's posts and the posts in my feed (SQLite FTS5, kept by triggers).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const isPg = dialectOf(db) === 'postgres';
  await db.schema.alterTable('posts').addColumn('content_warning', 'text').execute();
  await db.schema.alterTable('remote_posts').addColumn('content_warning', 'text').execute();
  await db.schema.alterTable('users').addColumn('pinned_post', 'text').execute();
  await db.schema.alterTable('comments').addColumn('reply_to', 'text').execute();
  await db.schema
    .createTable('mutes')
    .addColumn('username', 'text', (c) => c.notNull().references('users.username').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mutes_pk', ['username', 'address'])
    .execute();
  // My reposts: what I shared, so my followers' sites can be told, and I can undo it.
  await db.schema
    .createTable('reposts')
    .addColumn('username', 'text', (c) => c.notNull().references('users.username').onDelete('cascade'))
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('post_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('reposts_pk', ['username', 'author', 'post_id'])
    .execute();
  // Posts shared into my feed: who shared which post, when (the post itself is in remote_posts or posts).
  await db.schema
    .createTable('shared_posts')
    .addColumn('sharer', 'text', (c) => c.notNull())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('post_id', 'text', (c) => c.notNull())
    .addColumn('shared_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('shared_posts_pk', ['sharer', 'author', 'post_id'])
    .execute();
  if (!isPg) {
    await sql`create virtual table post_search using fts5(author unindexed, id unindexed, text, tokenize = 'unicode61 remove_diacritics 2')`.execute(db);
    await sql`insert into post_search (author, id, text) select author, id, text from posts`.execute(db);
    await sql`insert into post_search (author, id, text) select author, id, text from remote_posts`.execute(db);
    // Local posts are indexed under the bare username, remote ones under the full address, as the tables hold them.
    await sql`create trigger posts_search_insert after insert on posts begin insert into post_search (author, id, text) values (new.author, new.id, new.text); end`.execute(db);
    await sql`create trigger posts_search_update after update of text on posts begin update post_search set text = new.text where author = old.author and id = old.id; end`.execute(db);
    await sql`create trigger posts_search_delete after delete on posts begin delete from post_search where author = old.author and id = old.id; end`.execute(db);
    await sql`create trigger remote_search_insert after insert on remote_posts begin insert into post_search (author, id, text) values (new.author, new.id, new.text); end`.execute(db);
    await sql`create trigger remote_search_update after update of text on remote_posts begin update post_search set text = new.text where author = old.author and id = old.id; end`.execute(db);
    await sql`create trigger remote_search_delete after delete on remote_posts begin delete from post_search where author = old.author and id = old.id; end`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const trigger of ['posts_search_insert', 'posts_search_update', 'posts_search_delete', 'remote_search_insert', 'remote_search_update', 'remote_search_delete']) {
    await sql`drop trigger if exists ${sql.raw(trigger)}`.execute(db);
  }
  await sql`drop table if exists post_search`.execute(db);
  await db.schema.dropTable('shared_posts').ifExists().execute();
  await db.schema.dropTable('reposts').ifExists().execute();
  await db.schema.dropTable('mutes').ifExists().execute();
  await db.schema.alterTable('comments').dropColumn('reply_to').execute();
  await db.schema.alterTable('users').dropColumn('pinned_post').execute();
  await db.schema.alterTable('remote_posts').dropColumn('content_warning').execute();
  await db.schema.alterTable('posts').dropColumn('content_warning').execute();
}
