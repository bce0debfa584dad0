import { contractRoute } from '../http-contract.js';
import crypto from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { requireUser } from '../http-helpers.js';
import { decodeCursor } from '../storage/posts.js';
import { getPublicPost, listPublicPosts } from '../storage/public-content.js';
import { findUser, publicProfile } from '../storage/users.js';
import { peopleByAddress } from '../storage/feed.js';
import { rotateSiteKey } from '../federation/key-rotation.js';

export const userRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  // Read per request: in a hosting service one app serves many sites (ctx is the request's site).
  const where = () => ({ site: ctx.site, origin: ctx.config.origin });
  const userOr404 = async (name: string) => {
    const user = /^[a-z0-9_]{1,32}$/.test(name) ? await findUser(ctx.db, name) : undefined;
    if (!user) throw notFound(`user ${name.slice(0, 40)}`);
    return user;
  };

  contractRoute(app, 'user', async (request, reply) => {
    const user = await userOr404(request.params.name);
    void reply.header('access-control-allow-origin', '*').header('cache-control', 'no-cache');
    return publicProfile(ctx.db, ctx.site, user);
  });

  contractRoute(app, 'updateProfile', async (request) => {
    const username = await requireUser(ctx, request);
    const update = request.body;
    const set: Record<string, string> = {};
    if (update.displayName !== undefined) set.display_name = update.displayName;
    if (update.bio !== undefined) set.bio = update.bio;
    if (update.avatarUrl !== undefined) set.avatar_url = update.avatarUrl;
    if (Object.keys(set).length > 0) await ctx.db.updateTable('users').set(set).where('username', '=', username).execute();
    return publicProfile(ctx.db, ctx.site, (await findUser(ctx.db, username))!);
  });

  /**
   * Rotates my site key: the old key signs a notice for the new one, queued envelopes are signed
   * again, and other sites switch at their next look at my profile (PROTOCOL.md §3).
   */
  contractRoute(app, 'rotateSiteKey', async (request) => {
    const username = await requireUser(ctx, request);
    const result = await rotateSiteKey(ctx.db, ctx.site, username, ctx.now());
    ctx.log.info({ user: username, resigned: result.resigned }, 'site key rotated');
    return { siteKey: result.publicKey, previous: result.previous, resigned: result.resigned };
  });

  /** Public posts, newest first; this is what a follower's site pulls (with ETag and `since`). */
  contractRoute(app, 'userPosts', async (request, reply) => {
    const user = await userOr404(request.params.name);
    const query = request.query;
    const cursor = query.before ? decodeCursor(query.before) : undefined;
    if (query.before && !cursor) throw badRequest('invalid_cursor', 'before is not a cursor from a previous page');
    const body = await listPublicPosts(ctx.db, where(), user.username, { limit: query.limit, before: cursor ?? undefined, since: query.since ? Date.parse(query.since) : undefined, afterSeq: query.afterSeq });
    const etag = `W/"${crypto.createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 27)}"`;
    void reply.header('etag', etag).header('cache-control', 'no-cache').header('access-control-allow-origin', '*');
    if (request.headers['if-none-match'] === etag) return reply.status(304).send();
    return body;
  });

  contractRoute(app, 'userPost', async (request, reply) => {
    const params = request.params;
    const user = await userOr404(params.name);
    const post = await getPublicPost(ctx.db, where(), user.username, params.id);
    if (!post) throw notFound(`post ${params.id.slice(0, 64)}`);
    // Commenters' names and pictures, as far as this site knows them.
    const people = await peopleByAddress(ctx.db, ctx.site, [...new Set(post.comments.map((c) => c.author))]);
    post.comments = post.comments.map((c) => (people.has(c.author) ? { ...c, authorProfile: people.get(c.author)! } : c));
    void reply.header('access-control-allow-origin', '*').header('cache-control', 'no-cache');
    return post;
  });
};
