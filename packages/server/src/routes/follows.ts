import { formatAddress, formatSite, sameAddress, TYPES } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Context } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { remoteLookupError } from '../federation/directory.js';
import { parseAddressInput, parseInput, requireUser } from '../http-helpers.js';
import { queueEnvelope } from '../outbox/send.js';
import { decodeCursor, encodeCursor, olderThan } from '../storage/posts.js';
import { attachmentsOf } from '../storage/public-content.js';
import { findUser, localAddress } from '../storage/users.js';

const Follow = z.strictObject({ address: z.string().max(300) });
const FeedQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), before: z.string().max(100).optional() });

export const followRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  app.post('/api/following', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const target = parseAddressInput(parseInput(Follow, request.body).address);
    if (sameAddress(target, localAddress(ctx.site, username))) throw badRequest('cannot_follow_self', 'you cannot follow yourself');
    // Check the person exists before promising anything: a typo should fail now, clearly.
    if (ctx.directory.isLocal(target)) {
      if (!(await findUser(ctx.db, target.username))) throw notFound(`user ${formatAddress(target)}`);
    } else {
      await ctx.directory.profileOf(target).catch((error: unknown) => {
        throw remoteLookupError(error, target);
      });
    }
    const text = formatAddress(target);
    const created = await ctx.db.transaction().execute(async (trx) => {
      const result = await trx
        .insertInto('following')
        .values({ username, target: text, created_at: ctx.now(), etag: null, last_pulled_at: null })
        .onConflict((oc) => oc.columns(['username', 'target']).doNothing())
        .executeTakeFirst();
      // Sent again on a repeated follow too: the other side may have dropped us (a block, a
      // lost database), and a follow is idempotent there.
      await queueEnvelope(ctx, trx, { type: TYPES.follow, from: username, to: target, data: {} });
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    });
    ctx.users.followingChanged();
    ctx.outbox.wake();
    ctx.links.want(target);
    void ctx.puller.pull(target);
    void reply.status(created ? 201 : 200);
    return { address: text, following: true };
  });

  app.get('/api/following', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('following').select(['target', 'created_at']).where('username', '=', username).orderBy('created_at', 'desc').execute();
    return { items: rows.map((r) => ({ address: r.target, since: new Date(Number(r.created_at)).toISOString() })) };
  });

  app.delete('/api/following/:address', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const target = parseAddressInput(decodeURIComponent((request.params as { address: string }).address));
    const text = formatAddress(target);
    const removed = await ctx.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('following').where('username', '=', username).where('target', '=', text).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await queueEnvelope(ctx, trx, { type: TYPES.unfollow, from: username, to: target, data: {} });
      const others = await trx.selectFrom('following').select('username').where('target', '=', text).executeTakeFirst();
      if (!others) await trx.deleteFrom('remote_posts').where('author', '=', text).execute();
      return true;
    });
    ctx.users.followingChanged();
    if (!removed) throw notFound(`${text} in your following list`);
    ctx.outbox.wake();
    return reply.status(204).send();
  });

  app.get('/api/followers', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('followers').select(['follower', 'created_at']).where('username', '=', username).orderBy('created_at', 'desc').execute();
    return { items: rows.map((r) => ({ address: r.follower, since: new Date(Number(r.created_at)).toISOString() })) };
  });

  /** Posts of the people I follow, newest first: pulled or pushed remote posts plus local authors. */
  app.get('/api/feed', async (request) => {
    const username = await requireUser(ctx, request);
    const query = parseInput(FeedQuery, request.query, 'query');
    const cursor = query.before ? decodeCursor(query.before) : null;
    if (query.before && !cursor) throw badRequest('invalid_cursor', 'before is not a cursor from a previous page');
    const targets = (await ctx.db.selectFrom('following').select('target').where('username', '=', username).execute()).map((r) => r.target);
    if (targets.length === 0) return { items: [], next: null };
    const localPrefix = `@${formatSite(ctx.site)}`;
    const localAuthors = targets.filter((t) => t.endsWith(localPrefix)).map((t) => t.slice(0, -localPrefix.length));
    const remoteTargets = targets.filter((t) => !t.endsWith(localPrefix));
    const remote = await ctx.db
      .selectFrom('remote_posts')
      .select(['author', 'id', 'text', 'created_at', 'attachments'])
      // Local authors' posts come from `posts` below; their local deliveries must not show twice.
      .where('author', 'in', remoteTargets.length > 0 ? remoteTargets : [''])
      .$if(cursor !== null, (q) => q.where(olderThan(cursor!)))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit)
      .execute();
    const local =
      localAuthors.length === 0
        ? []
        : await ctx.db
            .selectFrom('posts')
            .select(['author', 'id', 'text', 'created_at', 'attachments'])
            .where('author', 'in', localAuthors)
            .$if(cursor !== null, (q) => q.where(olderThan(cursor!)))
            .orderBy('created_at', 'desc')
            .orderBy('id', 'desc')
            .limit(query.limit)
            .execute();
    const merged = [
      ...remote,
      ...local.map((p) => ({ ...p, author: formatAddress(localAddress(ctx.site, p.author)) })),
    ]
      .sort((a, b) => Number(b.created_at) - Number(a.created_at) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(0, query.limit);
    const last = merged[merged.length - 1];
    return {
      items: merged.map((p) => ({ id: p.id, text: p.text, author: p.author, createdAt: new Date(Number(p.created_at)).toISOString(), ...attachmentsOf(p.attachments) })),
      next: merged.length === query.limit && last ? encodeCursor(Number(last.created_at), last.id) : null,
    };
  });
};
