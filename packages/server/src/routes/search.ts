import { addressFromInput, formatAddress, formatSite, type Address } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { sql } from 'kysely';
import type { Context } from '../context.js';
import { contractRoute } from '../http-contract.js';
import { requireUser } from '../http-helpers.js';
import { decoratePosts, peopleByAddress, rememberProfileDocument, type FeedRow } from '../storage/feed.js';

/** The words of a query as an FTS5 expression: each word quoted (no operators from the user), the last one a prefix. */
export function ftsQuery(q: string): string | undefined {
  const words = searchWords(q);
  if (words.length === 0) return undefined;
  return words.map((w, i) => `"${w.replace(/"/g, '""')}"${i === words.length - 1 ? '*' : ''}`).join(' ');
}

/** The words searched for: letters, digits and _ only (so no query syntax gets through), at most 8. */
function searchWords(q: string): string[] {
  return q
    .toLowerCase()
    .split(/[^\p{L}\p{N}_]+/u)
    .filter(Boolean)
    .slice(0, 8);
}

/** `bob@host`, `@bob@host` or a profile link `https://host/@bob`: the address it names, if any. */
export function addressInQuery(q: string): Address | undefined {
  const text = q.trim();
  const link = /^https?:\/\//i.test(text);
  if (!link && !text.includes('@', 1)) return undefined;
  try {
    return addressFromInput(link ? text : text.toLowerCase());
  } catch {
    return undefined;
  }
}

/**
 * Search (issue 10): people by name or address (those of this site and those my site knows, plus
 * whoever an address or pasted link names), and the words of posts of this site and of my feed,
 * through the database's full-text index (FTS5 on SQLite, GIN on PostgreSQL).
 */
export const searchRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  // Read per request: in a hosting service one app serves many sites (ctx is the request's site).
  const where = () => ({ site: ctx.site, origin: ctx.config.origin });
  contractRoute(app, 'search', async (request) => {
    const username = await requireUser(ctx, request);
    const { q, limit } = request.query;
    const localSuffix = `@${formatSite(ctx.site)}`;
    const muted = new Set((await ctx.db.selectFrom('mutes').select('address').where('username', '=', username).execute()).map((r) => r.address));

    // People.
    const people = new Map<string, { address: string; displayName?: string; avatarUrl?: string }>();
    const named = addressInQuery(q);
    if (named) {
      const address = formatAddress(named);
      if (ctx.directory.isLocal(named)) {
        const found = await peopleByAddress(ctx.db, ctx.site, [address]);
        if (found.has(address)) people.set(address, found.get(address)!);
      } else {
        // Their card before following: my site asks theirs (through the SSRF guard).
        const profile = await ctx.directory.profileOf(named).catch(() => undefined);
        if (profile) {
          // Kept now, not only in the background as every fetch does, so the card below has the name.
          await rememberProfileDocument(ctx.db, address, profile, ctx.now());
          const found = await peopleByAddress(ctx.db, ctx.site, [address]);
          people.set(address, found.get(address) ?? { address });
        }
      }
    }
    // instr/strpos, not LIKE: the query's own % and _ are plain characters.
    const needle = q.replace(/^[@#]/, '').toLowerCase();
    const find = ctx.dialect === 'postgres' ? sql.raw('strpos') : sql.raw('instr');
    const contains = (column: string) => sql<boolean>`${find}(lower(${sql.ref(column)}), ${needle}) > 0`;
    const locals = await ctx.db
      .selectFrom('users')
      .select(['username', 'display_name', 'avatar_url'])
      .where((eb) => eb.or([contains('username'), contains('display_name')]))
      .limit(10)
      .execute();
    for (const u of locals) people.set(`${u.username}${localSuffix}`, { address: `${u.username}${localSuffix}`, displayName: u.display_name, avatarUrl: u.avatar_url });
    const known = await ctx.db
      .selectFrom('remote_profiles')
      .select(['address', 'display_name', 'avatar_url'])
      .where((eb) => eb.or([contains('address'), contains('display_name')]))
      .limit(10)
      .execute();
    for (const p of known) people.set(p.address, { address: p.address, displayName: p.display_name, avatarUrl: p.avatar_url });

    // Posts: this site's, and those in my feed (by the people I follow).
    const fts = ftsQuery(q);
    let rows: FeedRow[] = [];
    if (fts) {
      const following = new Set((await ctx.db.selectFrom('following').select('target').where('username', '=', username).execute()).map((r) => r.target));
      const hits = await matchingPosts(ctx, fts, q);
      const localIds = hits.rows.filter((h) => !h.author.includes('@')).map((h) => h.id);
      const remoteHits = hits.rows.filter((h) => h.author.includes('@') && following.has(h.author));
      const local = localIds.length
        ? await ctx.db.selectFrom('posts').select(['author', 'id', 'text', 'created_at', 'attachments', 'edited_at', 'content_warning']).where('id', 'in', localIds).execute()
        : [];
      const remote = remoteHits.length
        ? await ctx.db
            .selectFrom('remote_posts')
            .select(['author', 'id', 'text', 'created_at', 'attachments', 'edited_at', 'content_warning', 'like_count', 'comment_count'])
            .where('id', 'in', remoteHits.map((h) => h.id))
            .execute()
        : [];
      rows = [...local.map((p) => ({ ...p, author: `${p.author}${localSuffix}` })), ...remote.filter((p) => following.has(p.author))]
        .filter((p) => !muted.has(p.author))
        .sort((a, b) => Number(b.created_at) - Number(a.created_at))
        .slice(0, limit);
    }
    return { people: [...people.values()].filter((p) => !muted.has(p.address)).slice(0, 20), posts: await decoratePosts(ctx.db, where(), username, rows) };
  });
};

/**
 * Posts whose words match: SQLite's FTS5 index (migration 008), or PostgreSQL's full-text GIN
 * indexes (migration 012) with the same rule: every word, the last one as a prefix.
 */
async function matchingPosts(ctx: Context, fts: string, q: string): Promise<{ rows: Array<{ author: string; id: string }> }> {
  if (ctx.dialect === 'sqlite') {
    return await sql<{ author: string; id: string }>`select author, id from post_search where post_search match ${fts} order by rank limit 500`.execute(ctx.db);
  }
  const query = tsQuery(q);
  if (!query) return { rows: [] };
  const matches = sql<boolean>`to_tsvector('simple', text) @@ to_tsquery('simple', ${query})`;
  const local = await ctx.db.selectFrom('posts').select(['author', 'id']).where(matches).limit(500).execute();
  const remote = await ctx.db.selectFrom('remote_posts').select(['author', 'id']).where(matches).limit(500).execute();
  return { rows: [...local, ...remote] };
}

/** The words of a query as a PostgreSQL tsquery: each word quoted, all required, the last one a prefix. */
export function tsQuery(q: string): string | undefined {
  const words = searchWords(q);
  if (words.length === 0) return undefined;
  return words.map((w, i) => `'${w}'${i === words.length - 1 ? ':*' : ''}`).join(' & ');
}
