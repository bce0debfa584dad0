import { formatAddress, formatSite, LIMITS, type PostView, type SiteName } from '@hearth/protocol';
import { z } from 'zod';
import type { Kysely } from 'kysely';
import { decodeCursor, encodeCursor, olderThan, postCounts } from './posts.js';
import { attachmentsOf } from './public-content.js';
import type { Database } from './schema.js';

/** One post as the feed query finds it, local or remote; `author` is the full address. */
export interface FeedRow {
  author: string;
  id: string;
  text: string;
  created_at: number;
  attachments: string | null;
  edited_at?: number | null;
  content_warning?: string | null;
  like_count?: number | null;
  comment_count?: number | null;
  /** A shared post: who shared it (full address) and when; the feed orders it by that time. */
  sharer?: string;
  shared_at?: number;
}

export interface Where {
  site: SiteName;
  origin: string;
}

const sortTime = (r: FeedRow) => Number(r.shared_at ?? r.created_at);

/**
 * My home feed: my own posts, those of the people I follow and the posts they (or I) shared,
 * newest first, without anyone I mute; each with what a reader needs to act on it (counts,
 * whether I like or shared it, the author's name and picture, who shared it).
 */
export async function homeFeed(db: Kysely<Database>, where: Where, username: string, page: { limit: number; before?: string }): Promise<{ items: PostView[]; next: string | null }> {
  const cursor = page.before ? decodeCursor(page.before) : null;
  const muted = new Set((await db.selectFrom('mutes').select('address').where('username', '=', username).execute()).map((r) => r.address));
  const targets = (await db.selectFrom('following').select('target').where('username', '=', username).execute()).map((r) => r.target).filter((t) => !muted.has(t));
  const localSuffix = `@${formatSite(where.site)}`;
  const localAuthors = [username, ...targets.filter((t) => t.endsWith(localSuffix)).map((t) => t.slice(0, -localSuffix.length))];
  const remoteTargets = targets.filter((t) => !t.endsWith(localSuffix));
  const remote = remoteTargets.length
    ? await db
        .selectFrom('remote_posts')
        .select(['author', 'id', 'text', 'created_at', 'attachments', 'edited_at', 'content_warning', 'like_count', 'comment_count'])
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
    .select(['author', 'id', 'text', 'created_at', 'attachments', 'edited_at', 'content_warning'])
    .where('author', 'in', localAuthors)
    .$if(cursor !== null, (q) => q.where(olderThan(cursor!)))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit)
    .execute();
  const shared = await sharedPosts(db, where, localAuthors, remoteTargets, cursor, page.limit);
  const localCounts = await postCounts(db, [...local.map((p) => p.id)]);
  const merged: FeedRow[] = [
    ...remote,
    ...local.map((p) => ({ ...p, author: `${p.author}${localSuffix}`, like_count: localCounts.get(p.id)!.likes, comment_count: localCounts.get(p.id)!.comments })),
    ...shared,
  ]
    .filter((r) => !muted.has(r.author))
    .sort((a, b) => sortTime(b) - sortTime(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .slice(0, page.limit);
  const last = merged[merged.length - 1];
  return {
    items: await decoratePosts(db, where, username, merged),
    next: merged.length === page.limit && last ? encodeCursor(sortTime(last), last.id) : null,
  };
}

/** Posts shared by local people I follow (and me), and by remote people I follow, with the post itself. */
async function sharedPosts(db: Kysely<Database>, where: Where, localSharers: string[], remoteSharers: string[], cursor: { createdAt: number; id: string } | null, limit: number): Promise<FeedRow[]> {
  const localSuffix = `@${formatSite(where.site)}`;
  const before = <T extends { time: number; post_id: string }>(rows: T[]) =>
    cursor ? rows.filter((r) => r.time < cursor.createdAt || (r.time === cursor.createdAt && r.post_id < cursor.id)) : rows;
  const mine = localSharers.length
    ? await db.selectFrom('reposts').select(['username', 'author', 'post_id', 'created_at as time']).where('username', 'in', localSharers).orderBy('created_at', 'desc').limit(limit * 2).execute()
    : [];
  const theirs = remoteSharers.length
    ? await db.selectFrom('shared_posts').select(['sharer', 'author', 'post_id', 'shared_at as time']).where('sharer', 'in', remoteSharers).orderBy('shared_at', 'desc').limit(limit * 2).execute()
    : [];
  const wanted = [
    ...before(mine.map((r) => ({ sharer: `${r.username}${localSuffix}`, author: r.author, post_id: r.post_id, time: Number(r.time) }))),
    ...before(theirs.map((r) => ({ sharer: r.sharer, author: r.author, post_id: r.post_id, time: Number(r.time) }))),
  ];
  if (wanted.length === 0) return [];
  const localIds = wanted.filter((w) => w.author.endsWith(localSuffix)).map((w) => w.post_id);
  const remoteIds = wanted.filter((w) => !w.author.endsWith(localSuffix)).map((w) => w.post_id);
  const found = new Map<string, FeedRow>();
  if (localIds.length) {
    const rows = await db.selectFrom('posts').select(['author', 'id', 'text', 'created_at', 'attachments', 'edited_at', 'content_warning']).where('id', 'in', localIds).execute();
    const counts = await postCounts(db, rows.map((r) => r.id));
    for (const r of rows) found.set(`${r.author}${localSuffix}/${r.id}`, { ...r, author: `${r.author}${localSuffix}`, like_count: counts.get(r.id)!.likes, comment_count: counts.get(r.id)!.comments });
  }
  if (remoteIds.length) {
    const rows = await db.selectFrom('remote_posts').select(['author', 'id', 'text', 'created_at', 'attachments', 'edited_at', 'content_warning', 'like_count', 'comment_count']).where('id', 'in', remoteIds).execute();
    for (const r of rows) found.set(`${r.author}/${r.id}`, r);
  }
  // A share whose post my site does not hold (yet, or any more: deleted) shows nothing.
  return wanted.flatMap((w) => {
    const post = found.get(`${w.author}/${w.post_id}`);
    return post ? [{ ...post, sharer: w.sharer, shared_at: w.time }] : [];
  });
}

/** Adds to each post whether `reader` likes or shared it, its author's name and picture, and who shared it. */
export async function decoratePosts(db: Kysely<Database>, where: Where, reader: string, rows: FeedRow[]): Promise<PostView[]> {
  if (rows.length === 0) return [];
  const ids = [...new Set(rows.map((r) => r.id))];
  const liked = new Set(
    (await db.selectFrom('my_likes').select(['author', 'post_id']).where('username', '=', reader).where('post_id', 'in', ids).execute()).map((r) => `${r.author}/${r.post_id}`),
  );
  const reposted = new Set(
    (await db.selectFrom('reposts').select(['author', 'post_id']).where('username', '=', reader).where('post_id', 'in', ids).execute()).map((r) => `${r.author}/${r.post_id}`),
  );
  const people = await peopleByAddress(db, where.site, [...new Set(rows.flatMap((r) => (r.sharer ? [r.author, r.sharer] : [r.author])))]);
  const localSuffix = `@${formatSite(where.site)}`;
  return rows.map((p) => {
    const local = p.author.endsWith(localSuffix);
    return {
      id: p.id,
      text: p.text,
      author: p.author,
      createdAt: new Date(Number(p.created_at)).toISOString(),
      ...(p.edited_at ? { editedAt: new Date(Number(p.edited_at)).toISOString() } : {}),
      ...(p.content_warning ? { contentWarning: p.content_warning } : {}),
      ...(local ? { url: `${where.origin}/@${p.author.slice(0, -localSuffix.length)}/${p.id}` } : {}),
      ...(p.like_count === null || p.like_count === undefined ? {} : { likeCount: Number(p.like_count) }),
      ...(p.comment_count === null || p.comment_count === undefined ? {} : { commentCount: Number(p.comment_count) }),
      likedByMe: liked.has(`${p.author}/${p.id}`),
      repostedByMe: reposted.has(`${p.author}/${p.id}`),
      ...attachmentsOf(p.attachments),
      ...(people.has(p.author) ? { authorProfile: people.get(p.author)! } : {}),
      ...(p.sharer ? { repostedBy: people.get(p.sharer) ?? { address: p.sharer }, repostedAt: new Date(Number(p.shared_at)).toISOString() } : {}),
    };
  });
}

/** What another site says about a person: checked, and cut to what a page shows (and what is remembered). */
export const RemoteProfileSchema = z.object({
  displayName: z.string().max(LIMITS.displayNameChars * 2),
  bio: z.string().max(LIMITS.bioChars * 2).default(''),
  avatarUrl: z.string().max(LIMITS.urlChars).default(''),
  postCount: z.number().int().min(0).default(0),
  createdAt: z.string().max(40).default(''),
  pinnedPost: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional().catch(undefined),
});

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

/**
 * Remembers a person's name and picture from a profile document my site fetched anyway (for
 * their key, a follow, a visit): best effort, and only what looks like a Hearth profile.
 */
export async function rememberProfileDocument(db: Kysely<Database>, address: string, raw: unknown, now: number): Promise<void> {
  // Only what is remembered is checked: a picture that is not a usable URL is dropped, not the name.
  const parsed = RemoteProfileSchema.pick({ displayName: true }).extend({ avatarUrl: z.string().max(LIMITS.urlChars).catch('') }).safeParse(raw);
  if (!parsed.success || parsed.data.displayName.length === 0) return;
  const avatarUrl = /^https?:\/\//.test(parsed.data.avatarUrl) ? parsed.data.avatarUrl : '';
  await rememberProfile(db, { address, displayName: parsed.data.displayName, avatarUrl }, now);
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
