import { contractRoute } from '../http-contract.js';
import { formatAddress, sameAddress, TYPES } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { remoteLookupError } from '../federation/directory.js';
import { parseAddressInput, requireUser } from '../http-helpers.js';
import { queueEnvelope } from '../outbox/send.js';
import { decodeCursor } from '../storage/posts.js';
import { homeFeed, peopleByAddress } from '../storage/feed.js';
import { findUser, localAddress } from '../storage/users.js';


export const followRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  contractRoute(app, 'follow', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const target = parseAddressInput(request.body.address);
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
    let followId = '';
    const created = await ctx.db.transaction().execute(async (trx) => {
      const result = await trx
        .insertInto('following')
        .values({ username, target: text, created_at: ctx.now(), etag: null, last_pulled_at: null })
        .onConflict((oc) => oc.columns(['username', 'target']).doNothing())
        .executeTakeFirst();
      // Sent again on a repeated follow too: the other side may have dropped us (a block, a
      // lost database), and a follow is idempotent there.
      followId = (await queueEnvelope(ctx, trx, { type: TYPES.follow, from: username, to: target, data: {} })).id;
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    });
    ctx.users.followingChanged();
    // Once their site knows of the follow, pull again: a post made meanwhile was pushed to no one.
    if (!ctx.directory.isLocal(target)) ctx.pullAfterDelivery.set(followId, target);
    ctx.outbox.wake();
    ctx.links.want(target);
    void ctx.puller.pull(target);
    const answer = { address: text, following: true as const };
    return created ? answer : reply.status(200).send(answer);
  });

  contractRoute(app, 'following', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('following').select(['target', 'created_at']).where('username', '=', username).orderBy('created_at', 'desc').execute();
    return { items: await withNames(ctx, rows.map((r) => ({ address: r.target, since: new Date(Number(r.created_at)).toISOString() }))) };
  });

  contractRoute(app, 'unfollow', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const target = parseAddressInput(request.params.address);
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

  contractRoute(app, 'followers', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('followers').select(['follower', 'created_at']).where('username', '=', username).orderBy('created_at', 'desc').execute();
    return { items: await withNames(ctx, rows.map((r) => ({ address: r.follower, since: new Date(Number(r.created_at)).toISOString() }))) };
  });

  /** My posts and those of the people I follow, newest first (local authors from `posts`, others pulled or pushed). */
  contractRoute(app, 'feed', async (request) => {
    const username = await requireUser(ctx, request);
    if (request.query.before && !decodeCursor(request.query.before)) throw badRequest('invalid_cursor', 'before is not a cursor from a previous page');
    return homeFeed(ctx.db, { site: ctx.site, origin: ctx.config.origin }, username, request.query);
  });
};

/** Adds the names and pictures my site knows to a list of people. */
async function withNames<T extends { address: string }>(ctx: Context, items: T[]): Promise<Array<T & { displayName?: string; avatarUrl?: string }>> {
  const people = await peopleByAddress(ctx.db, ctx.site, items.map((i) => i.address));
  return items.map((i) => {
    const p = people.get(i.address);
    return p ? { ...i, displayName: p.displayName, avatarUrl: p.avatarUrl } : i;
  });
}
