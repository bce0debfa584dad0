import { contractRoute } from '../http-contract.js';
import crypto from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { randomToken, sha256Hex } from '../crypto/node-signing.js';
import { ApiError, conflict } from '../errors.js';
import { createUser, listUsernames } from '../storage/users.js';

const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * First run in the browser. While a site has no users, `hearth start` prints a link with a
 * one-time code; whoever opens it chooses the first user's name and password and is logged in.
 * Without the code nobody can claim a fresh site, even one already reachable from the internet.
 */
export const setupRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  contractRoute(app, 'setupNeeded', async () => ({ needed: (await listUsernames(ctx.db)).length === 0 }));

  contractRoute(app, 'setup', async (request, reply) => {
    const body = request.body;
    if ((await listUsernames(ctx.db)).length > 0) throw conflict('already_set_up', 'this site is already set up: log in instead');
    const keys = [`ip:${request.ip}`, 'setup'];
    if (ctx.loginLimiter.retryAfter(keys, ctx.now()) > 0) throw new ApiError('rate_limited', 'too many wrong setup codes: wait a few minutes', { status: 429 });
    const expected = ctx.setupCode;
    const given = Buffer.from(body.code);
    if (!expected || given.length !== expected.length || !crypto.timingSafeEqual(given, Buffer.from(expected))) {
      ctx.loginLimiter.recordFailure(keys, ctx.now());
      throw new ApiError('bad_setup_code', 'the setup code is wrong: use the link that `hearth start` printed', { status: 403 });
    }
    await createUser(ctx.db, { username: body.username, password: body.password, displayName: body.displayName }, ctx.now());
    ctx.setupCode = undefined;
    const token = randomToken();
    await ctx.db.insertInto('sessions').values({ token_hash: sha256Hex(token), username: body.username, created_at: ctx.now(), expires_at: ctx.now() + SESSION_TTL_MS }).execute();
    void reply.status(201);
    return { token, username: body.username };
  });
};
