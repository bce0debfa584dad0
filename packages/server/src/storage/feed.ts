import { formatAddress, formatSite, type PostView, type SiteName } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { decodeCursor, encodeCursor, olderThan, postCounts } from './posts.js';
import { attachmentsOf } from './public-content.js';
import type { Database } from './schema.js';
import { localAddress } from './users.js';

/** One post as the feed query finds it, local or remote; `author` is the full address. */
interface FeedRow {
  author: string;
  id: string;
  text: string;
  created_at: number;
  attachments: string | null;
  edited_at?: number | null;
  like_count?: number | null;
  comment_count?: number | null;
}

export interface Where {
  site: SiteName;
  origin: string;
}

/**
 * My home feed: my own posts and those of the people I follow, newest first, each with what a
 * reader needs to act on it (counts, whether I like it, the author's name and picture).
 */
export async function homeFeed(db: Kysely<Database>, where: Where, username: string, page: { limit: number; before?: string }): Promise<{ items: PostView[]; next: string | null }> {
  const cursor = page.before ? decodeCursor(page.before) : null;
  const targets = (await db.selectFrom('following').select('target').where('username', '=', username).execute()).map((r) => r.target);
  const localSuffix = `@${formatSite(where.site)}`;
  const localAuthors = [username, ...targets.filter((t) => t.endsWith(localSuffix)).map((t) => t.slice(0, -localSuffix.length))];
  const remoteTargets = targets.filter((t) => !t.endsWith(localSuffix));
  const remote = remoteTargets.length
    ? await db
        .selectFrom('remote_posts')
        .select(['author', 'id', 'text', 'created_at', 'attachments', 'edited_at', 'like_count', 'comment_count'])
        // Local authors' posts come from `posts` below; their local deliveries must not show twice.
        .where('author', 'in', remoteTargets)
        .$if(cursor !== null, (q) => q.where(olderThan(cursor!)))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.limit)
        .execute()
    : [];
  const local = await db
    .selectFrom('posts')
    .select(['author', 'id', 'text', 'created_at', 'attachments', 'edited_at'])
    .where('author', 'in', localAuthors)
    .$if(cursor !== null, (q) => q.where(olderThan(cursor!)))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit)
    .execute();
  const localCounts = await postCounts(db, local.map((p) => p.id));
  const merged: FeedRow[] = [
    ...remote,
    ...local.map((p) => ({ ...p, author: formatAddress(localAddress(where.site, p.author)), like_count: localCounts.get(p.id)!.likes, comment_count: localCounts.get(p.id)!.comments })),
  ]
    .sort((a, b) => Number(b.created_at) - Number(a.created_at) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .slice(0, page.limit);
  const last = merged[merged.length - 1];
  return {
    items: await decoratePosts(db, where, username, merged),
    next: merged.length === page.limit && last ? encodeCursor(Number(last.created_at), last.id) : null,
  };
}

/** Adds to each post whether `reader` likes it and its author's name and picture. */
export async function decoratePosts(db: Kysely<Database>, where: Where, reader: string, rows: FeedRow[]): Promise<PostView[]> {
  if (rows.length === 0) return [];
  const liked = new Set(
    (
      await db
        .selectFrom('my_likes')
        .select(['author', 'post_id'])
        .where('username', '=', reader)
        .where('post_id', 'in', [...new Set(rows.map((r) => r.id))])
        .execute()
    ).map((r) => `${r.author}/${r.post_id}`),
  );
  const people = await peopleByAddress(db, where.site, [...new Set(rows.map((r) => r.author))]);
  const localSuffix = `@${formatSite(where.site)}`;
  return rows.map((p) => {
    const local = p.author.endsWith(localSuffix);
    return {
      id: p.id,
      text: p.text,
      author: p.author,
      createdAt: new Date(Number(p.created_at)).toISOString(),
      ...(p.edited_at ? { editedAt: new Date(Number(p.edited_at)).toISOString() } : {}),
      ...(local ? { url: `${where.origin}/@${p.author.slice(0, -localSuffix.length)}/${p.id}` } : {}),
      ...(p.like_count === null || p.like_count === undefined ? {} : { likeCount: Number(p.like_count) }),
      ...(p.comment_count === null || p.comment_count === undefined ? {} : { commentCount: Number(p.comment_count) }),
      likedByMe: liked.has(`${p.author}/${p.id}`),
      ...attachmentsOf(p.attachments),
      ...(people.has(p.author) ? { authorProfile: people.get(p.author)! } : {}),
    };
  });
}

/** Names and pictures for addresses: local users from `users`, others as last fetched. */
export async function peopleByAddress(db: Kysely<Database>, site: SiteName, addresses: string[]): Promise<Map<string, { address: string; displayName: string; avatarUrl: string }>> {
  const found = new Map<string, { address: string; displayName: string; avatarUrl: string }>();
  if (addresses.length === 0) return found;
  const localSuffix = `@${formatSite(site)}`;
  const localNames = addresses.filter((a) => a.endsWith(localSuffix)).map((a) => a.slice(0, -localSuffix.length));
  const remote = addresses.filter((a) => !a.endsWith(localSuffix));
  if (localNames.length) {
    for (const u of await db.selectFrom('users').select(['username', 'display_name', 'avatar_url']).where('username', 'in', localNames).execute()) {
      const address = `${u.username}${localSuffix}`;
      found.set(address, { address, displayName: u.display_name, avatarUrl: u.avatar_url });
    }
  }
  if (remote.length) {
    for (const p of await db.selectFrom('remote_profiles').select(['address', 'display_name', 'avatar_url']).where('address', 'in', remote).execute()) {
      found.set(p.address, { address: p.address, displayName: p.display_name, avatarUrl: p.avatar_url });
    }
  }
  return found;
}

/** Remembers a remote person's name and picture from a profile my site fetched. */
export async function rememberProfile(db: Kysely<Database>, profile: { address: string; displayName: string; avatarUrl: string }, now: number): Promise<void> {
  const values = { display_name: profile.displayName.slice(0, 200), avatar_url: profile.avatarUrl.slice(0, 2000), fetched_at: now };
  await db
    .insertInto('remote_profiles')
    .values({ address: profile.address, ...values })
    .onConflict((oc) => oc.column('address').doUpdateSet(values))
    .execute();
}
