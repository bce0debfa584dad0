import { formatAddress, formatSite, parseAddress, sameSite } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { contractRoute } from '../http-contract.js';
import { parseAddressInput, requireUser } from '../http-helpers.js';
import { utcDay } from '../relay/limits.js';
import { addMyRelay, DEFAULT_FRIEND_LIMITS, mutualFollows, myRelays, putRelayFriend, relayFriends, relaysForMutuals, relayStats, removeMyRelay, removeRelayFriend, setRelayForMutuals } from '../relay/store.js';
import { peopleByAddress } from '../storage/feed.js';
import { localAddressText } from '../storage/users.js';

const iso = (ms: number) => new Date(ms).toISOString();
const zero = { envelopes: 0, bytes: 0, refused: 0 };

/**
 * The friends relay in settings (PROTOCOL.md §9): whom I relay for (with limits, and what I
 * relayed for each, counts only), the relays I use for my own traffic (advertised in this
 * site's discovery document), and the path my site uses to each site now.
 */
export const relayRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  /** Someone else's address, written the one way it is stored. */
  const otherAddress = (text: unknown, me: string): string => {
    const address = parseAddressInput(text);
    if (formatAddress(address) === me) throw badRequest('invalid_request', 'that is your own address: a relay is a friend’s site');
    if (sameSite(address, ctx.site)) throw badRequest('invalid_request', `${formatAddress(address)} is on this site: a relay is for people on other sites`);
    return formatAddress(address);
  };

  contractRoute(app, 'relayFriends', async (request) => {
    const username = await requireUser(ctx, request);
    await ctx.relay.flush(); // the counts up to this moment
    const [listed, stats, mutuals] = await Promise.all([relayFriends(ctx.db, username), relayStats(ctx.db, username, utcDay(ctx.now())), relaysForMutuals(ctx.db, username)]);
    const onList = new Set(listed.map((f) => f.address));
    const friends = [
      ...listed.map((f) => ({ ...f, mutual: false })),
      ...(mutuals ? (await mutualFollows(ctx.db, username)).filter((a) => !onList.has(a)).map((address) => ({ address, ...DEFAULT_FRIEND_LIMITS, since: ctx.now(), mutual: true })) : []),
    ];
    const people = await peopleByAddress(ctx.db, ctx.site, friends.map((f) => f.address));
    return {
      mutuals,
      friends: friends.map((f) => ({
        address: f.address,
        perMinute: f.perMinute,
        bytesPerDay: f.bytesPerDay,
        since: iso(f.since),
        ...(f.mutual ? { mutual: true } : {}),
        ...(people.get(f.address)?.displayName ? { displayName: people.get(f.address)!.displayName } : {}),
        today: stats.get(f.address)?.today ?? zero,
        total: stats.get(f.address)?.total ?? zero,
      })),
    };
  });

  /** Also relay for everyone I follow who follows me back (off unless turned on). */
  contractRoute(app, 'relaySettings', async (request) => {
    const username = await requireUser(ctx, request);
    await setRelayForMutuals(ctx.db, username, request.body.mutuals);
    return { mutuals: request.body.mutuals };
  });

  /** Relay for someone, or change their limits. */
  contractRoute(app, 'relayFriendPut', async (request) => {
    const username = await requireUser(ctx, request);
    const address = otherAddress(request.body.address, localAddressText(ctx.site, username));
    const friend = await putRelayFriend(ctx.db, username, address, { perMinute: request.body.perMinute, bytesPerDay: request.body.bytesPerDay }, ctx.now());
    const stats = (await relayStats(ctx.db, username, utcDay(ctx.now()))).get(address);
    return { ...friend, since: iso(friend.since), today: stats?.today ?? zero, total: stats?.total ?? zero };
  });

  /** Stop relaying for someone: takes effect with the next envelope (the list is read for each one). */
  contractRoute(app, 'relayFriendRemove', async (request) => {
    const username = await requireUser(ctx, request);
    const address = formatAddress(parseAddressInput(request.params.address));
    if (!(await removeRelayFriend(ctx.db, username, address))) throw notFound(`${address} in the people you relay for`);
    ctx.relay.forget(username, address);
  });

  contractRoute(app, 'myRelays', async (request) => {
    const username = await requireUser(ctx, request);
    return { relays: await myRelays(ctx.db, username) };
  });

  contractRoute(app, 'myRelayAdd', async (request) => {
    const username = await requireUser(ctx, request);
    const address = otherAddress(request.body.address, localAddressText(ctx.site, username));
    const relays = await addMyRelay(ctx.db, username, address, ctx.now());
    ctx.links.want(parseAddress(address));
    return { relays };
  });

  contractRoute(app, 'myRelayRemove', async (request) => {
    const username = await requireUser(ctx, request);
    const address = formatAddress(parseAddressInput(request.params.address));
    if (!(await removeMyRelay(ctx.db, username, address))) throw notFound(`${address} in your relays`);
  });

  /** The path to each site my site has had to think about, with the people there I know. */
  contractRoute(app, 'relayPaths', async (request) => {
    const username = await requireUser(ctx, request);
    const [paths, following, followers] = await Promise.all([
      ctx.relayPaths.all(),
      ctx.db.selectFrom('following').select('target as address').where('username', '=', username).execute(),
      ctx.db.selectFrom('followers').select('follower as address').where('username', '=', username).execute(),
    ]);
    const contacts = [...new Set([...following, ...followers].map((r) => r.address))];
    const now = ctx.siteNow();
    return {
      paths: [...paths].map(([site, state]) => ({
        site,
        via: state.via,
        since: iso(state.since),
        ...(state.via && state.nextProbeAt > now ? { nextProbeAt: iso(ctx.now() + (state.nextProbeAt - now)) } : {}),
        people: contacts.filter((a) => formatSite(parseAddress(a)) === site),
      })),
    };
  });
};
