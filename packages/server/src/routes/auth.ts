import { contractRoute } from '../http-contract.js';
import type { FastifyPluginAsync } from 'fastify';
import { HearthError } from '@hearth/protocol';
import type { Context } from '../context.js';
import { verifyPassword } from '../auth/passwords.js';
import { randomToken, sha256Hex } from '../crypto/node-signing.js';
import { ApiError } from '../errors.js';
import { requireUser } from '../http-helpers.js';
import { findUser, localAddressText, publicProfile } from '../storage/users.js';

const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** A valid hash to verify against when the user does not exist, so timing does not reveal usernames. */
let decoyHash: Promise<string> | undefined;

export const authRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  contractRoute(app, 'login', async (request, reply) => {
    const { username, password } = request.body;
    const keys = [`ip:${request.ip}`, `user:${username.toLowerCase()}`];
    const wait = ctx.loginLimiter.retryAfter(keys, ctx.now());
    if (wait > 0) {
      const error = new ApiError('rate_limited', `too many failed logins: try again in ${Math.ceil(wait / 1000)} s`, { status: 429 });
      (error as unknown as { retryAfterMs: number }).retryAfterMs = wait;
      throw error;
    }
    const user = await findUser(ctx.db, username.toLowerCase());
    decoyHash ??= import('../auth/passwords.js').then((m) => m.hashPassword('decoy password for timing'));
    const ok = user ? await verifyPassword(user.password_hash, password) : (await verifyPassword(await decoyHash, password), false);
    if (!user || !ok) {
      ctx.loginLimiter.recordFailure(keys, ctx.now());
      throw new ApiError('invalid_credentials', 'wrong username or password', { status: 401 });
    }
    const token = randomToken();
    const now = ctx.now();
    await ctx.db.insertInto('sessions').values({ token_hash: sha256Hex(token), username: user.username, created_at: now, expires_at: now + SESSION_TTL_MS }).execute();
    void reply.status(200);
    return { token, username: user.username, expiresAt: new Date(now + SESSION_TTL_MS).toISOString() };
  });

  contractRoute(app, 'logout', async (request, reply) => {
    await requireUser(ctx, request);
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    await ctx.db.deleteFrom('sessions').where('token_hash', '=', sha256Hex(token)).execute();
    return reply.status(204).send();
  });

  /** How my site is doing: its links to other sites, and my envelopes still queued or failed. */
  contractRoute(app, 'status', async (request) => {
    const username = await requireUser(ctx, request);
    const sender = localAddressText(ctx.site, username);
    const counts = await ctx.db
      .selectFrom('outbox')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('sender', '=', sender)
      .groupBy('status')
      .execute();
    const count = (status: string) => Number(counts.find((c) => c.status === status)?.n ?? 0);
    // The longest the event loop stalled (perf_hooks.monitorEventLoopDelay) since the previous
    // ?resetEventLoop=1: how long the site answered nothing, for the owner and the benchmark.
    const eventLoop = ctx.eventLoopDelay(request.query.resetEventLoop === '1');
    return { site: ctx.config.origin, links: ctx.links.list(), outbox: { pending: count('pending'), failed: count('failed') }, storage: ctx.storageState(), eventLoop };
  });

  contractRoute(app, 'me', async (request) => {
    const username = await requireUser(ctx, request);
    const user = await findUser(ctx.db, username);
    if (!user) throw new HearthError('unauthorized', 'user no longer exists', { status: 401 });
    return publicProfile(ctx.db, ctx.site, user);
  });
};
