import { formatAddress, type Address, type PostDetail } from '@hearth/protocol';
import { RemotePostDetailSchema, RemotePostSchema } from '../federation/remote-post.js';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Context } from '../context.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { remoteLookupError } from '../federation/directory.js';
import { contractRoute } from '../http-contract.js';
import { parseAddressInput, requireUser } from '../http-helpers.js';
import { decoratePosts, peopleByAddress, RemoteProfileSchema } from '../storage/feed.js';
import { decodeCursor } from '../storage/posts.js';
import { getPublicPost, listPublicPosts } from '../storage/public-content.js';
import { findUser, localAddressText } from '../storage/users.js';

const badRemoteAnswer = (message: string) => new ApiError('bad_remote_answer', message, { status: 502 });

const RemotePage = z.object({ items: z.array(RemotePostSchema).max(100), next: z.string().max(100).nullable().optional() });

/**
 * Anyone's profile, posts and threads, seen through my own site: the browser only ever talks to
 * its own site, which fetches from theirs (through the SSRF guard) and adds what I need to act:
 * whether I follow them, they follow me, I block them, and which of their posts I like.
 */
export const peopleRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  // Read per request: in a hosting service one app serves many sites (ctx is the request's site).
  const where = () => ({ site: ctx.site, origin: ctx.config.origin });
  const fetchRemote = async <T>(address: Address, path: string, schema: z.ZodType<T>): Promise<T> => {
    const raw = await ctx.directory.fetchJson(`${ctx.directory.origin(address)}${path}`).catch((error: unknown) => {
      throw remoteLookupError(error, address);
    });
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw badRemoteAnswer(`${formatAddress(address)}'s site answered with something that is not a Hearth page`);
    return parsed.data;
  };

  contractRoute(app, 'person', async (request) => {
    const username = await requireUser(ctx, request);
    const target = parseAddressInput(request.params.address);
    const address = formatAddress(target);
    const local = ctx.directory.isLocal(target);
    let profile: z.infer<typeof RemoteProfileSchema>;
    if (local) {
      const user = await findUser(ctx.db, target.username);
      if (!user) throw notFound(`user ${address}`);
      const posts = await ctx.db.selectFrom('posts').select((eb) => eb.fn.countAll<number>().as('n')).where('author', '=', user.username).executeTakeFirst();
      profile = {
        displayName: user.display_name,
        bio: user.bio,
        avatarUrl: user.avatar_url,
        postCount: Number(posts?.n ?? 0),
        createdAt: new Date(Number(user.created_at)).toISOString(),
        ...(user.pinned_post ? { pinnedPost: user.pinned_post } : {}),
      };
    } else {
      const raw = await ctx.directory.profileOf(target).catch((error: unknown) => {
        throw remoteLookupError(error, target);
      });
      const parsed = RemoteProfileSchema.safeParse(raw);
      if (!parsed.success) throw badRemoteAnswer(`${address}'s site answered with something that is not a Hearth profile`);
      // (Its name and picture were remembered as it was fetched: Directory's onProfile.)
      profile = parsed.data;
    }
    const [following, follower, blocked, muted] = await Promise.all([
      ctx.db.selectFrom('following').select('target').where('username', '=', username).where('target', '=', address).executeTakeFirst(),
      ctx.db.selectFrom('followers').select('follower').where('username', '=', username).where('follower', '=', address).executeTakeFirst(),
      ctx.db.selectFrom('blocks').select('address').where('username', '=', username).where('address', '=', address).executeTakeFirst(),
      ctx.db.selectFrom('mutes').select('address').where('username', '=', username).where('address', '=', address).executeTakeFirst(),
    ]);
    const { pinnedPost, ...shown } = profile;
    const path = local ? undefined : await ctx.relayPaths.get(target);
    return {
      ...(path?.via ? { relayedVia: { relay: path.via, since: new Date(path.since).toISOString() } } : {}),
      profile: { username: target.username, address, ...shown },
      local,
      me: address === localAddressText(ctx.site, username),
      following: following !== undefined,
      followsMe: follower !== undefined,
      blocked: blocked !== undefined,
      muted: muted !== undefined,
      ...(pinnedPost ? { pinnedPost } : {}),
    };
  });

  contractRoute(app, 'names', async (request) => {
    await requireUser(ctx, request);
    const addresses = [...new Set(request.query.addresses.split(',').map((a) => a.trim()).filter(Boolean))].slice(0, 50);
    const known = await peopleByAddress(ctx.db, ctx.site, addresses);
    return { items: addresses.map((address) => known.get(address) ?? { address }) };
  });

  contractRoute(app, 'personPosts', async (request) => {
    const username = await requireUser(ctx, request);
    const target = parseAddressInput(request.params.address);
    const address = formatAddress(target);
    const { limit, before } = request.query;
    if (before && !decodeCursor(before)) throw badRequest('invalid_cursor', 'before is not a cursor from a previous page');
    if (ctx.directory.isLocal(target)) {
      if (!(await findUser(ctx.db, target.username))) throw notFound(`user ${address}`);
      const page = await listPublicPosts(ctx.db, where(), target.username, { limit, before: before ? decodeCursor(before)! : undefined });
      const liked = await decoratePosts(ctx.db, where(), username, page.items.map((p) => ({ author: address, id: p.id, text: p.text, created_at: Date.parse(p.createdAt), attachments: null })));
      return { items: page.items.map((p, i) => ({ ...p, likedByMe: liked[i]!.likedByMe, repostedByMe: liked[i]!.repostedByMe, ...(liked[i]!.authorProfile ? { authorProfile: liked[i]!.authorProfile } : {}) })), next: page.next };
    }
    const page = await fetchRemote(target, `/api/users/${target.username}/posts?limit=${limit}${before ? `&before=${encodeURIComponent(before)}` : ''}`, RemotePage);
    const items = page.items.filter((p) => p.author === address);
    const decorated = await decoratePosts(
      ctx.db,
      where(),
      username,
      items.map((p) => ({ author: address, id: p.id, text: p.text, created_at: Date.parse(p.createdAt), attachments: p.attachments?.length ? JSON.stringify(p.attachments) : null, edited_at: p.editedAt ? Date.parse(p.editedAt) : null, content_warning: p.contentWarning ?? null, like_count: p.likeCount, comment_count: p.commentCount })),
    );
    return { items: decorated, next: page.next ?? null };
  });

  contractRoute(app, 'personPost', async (request) => {
    const username = await requireUser(ctx, request);
    const target = parseAddressInput(request.params.address);
    const address = formatAddress(target);
    const id = request.params.id;
    let detail: PostDetail;
    if (ctx.directory.isLocal(target)) {
      const post = await getPublicPost(ctx.db, where(), target.username, id);
      if (!post) throw notFound(`post ${id}`);
      detail = post;
    } else {
      const post = await fetchRemote(target, `/api/users/${target.username}/posts/${encodeURIComponent(id)}`, RemotePostDetailSchema);
      if (post.author !== address || post.id !== id) throw badRemoteAnswer(`${address}'s site answered with another post`);
      detail = {
        id: post.id,
        text: post.text,
        author: address,
        createdAt: post.createdAt,
        ...(post.editedAt ? { editedAt: post.editedAt } : {}),
        ...(post.contentWarning ? { contentWarning: post.contentWarning } : {}),
        ...(post.attachments ? { attachments: post.attachments } : {}),
        likeCount: post.likes.length,
        commentCount: post.comments.length,
        likes: post.likes,
        comments: post.comments.map((c) => ({ id: c.id, author: c.author, text: c.text, createdAt: c.createdAt, ...(c.replyTo ? { replyTo: c.replyTo } : {}) })),
      };
    }
    const [mine] = await decoratePosts(ctx.db, where(), username, [{ author: address, id: detail.id, text: detail.text, created_at: Date.parse(detail.createdAt), attachments: null }]);
    const people = await peopleByAddress(ctx.db, ctx.site, [address, ...detail.comments.map((c) => c.author)]);
    return {
      ...detail,
      repostedByMe: mine!.repostedByMe,
      comments: detail.comments.map((c) => (people.has(c.author) ? { ...c, authorProfile: people.get(c.author)! } : c)),
      likedByMe: mine!.likedByMe,
      ...(people.has(address) ? { authorProfile: people.get(address)! } : {}),
    };
  });
};
