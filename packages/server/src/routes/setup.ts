import crypto from 'node:crypto';
import { LIMITS } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Context } from '../context.js';
import { MIN_PASSWORD_LENGTH } from '../auth/passwords.js';
import { randomToken, sha256Hex } from '../crypto/node-signing.js';
import { ApiError, conflict } from '../errors.js';
import { parseInput } from '../http-helpers.js';
import { createUser, listUsernames } from '../storage/users.js';

const Setup = z.strictObject({
  code: z.string().max(100),
  username: z.string().regex(/^[a-z0-9_]{1,32}$/, 'use 1 to 32 of a-z, 0-9 and _'),
  password: z.string().min(MIN_PASSWORD_LENGTH, `use at least ${MIN_PASSWORD_LENGTH} characters`).max(1024),
  displayName: z.string().trim().min(1).max(LIMITS.displayNameChars),
});

const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * First run in the browser. While a site has no users, `hearth start` prints a link with a
 * one-time code; whoever opens it chooses the first user's name and password and is logged in.
 * Without the code nobody can claim a fresh site, even one already reachable from the internet.
 */
export const setupRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  app.get('/api/setup', async () => ({ needed: (await listUsernames(ctx.db)).length === 0 }));

  app.post('/api/setup', async (request, reply) => {
    const body = parseInput(Setup, request.body);
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
