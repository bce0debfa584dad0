import { contractRoute } from '../http-contract.js';
import { createEnvelope, formatAddress, sameSite, TYPES } from '@hearth/protocol';
import { localAddress } from '../storage/users.js';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { mayCall } from '../storage/calls.js';
import { parseAddressInput, requireUser } from '../http-helpers.js';
import { turnCredentials, turnUrls } from '../turn/turn.js';


/** Signals per minute per user: a call needs a few dozen (ICE candidates); more is abuse. */
const SIGNALS_PER_MINUTE = 300;

/**
 * Calls (docs/API.md "Calls"): the browser's sealed signals go out through its own site, now or
 * never (a ring is worthless later), and the site's TURN relay hands out short-lived credentials.
 */
export const callRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  contractRoute(app, 'callSignal', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const body = request.body;
    const to = parseAddressInput(body.to);
    const callee = formatAddress(to);
    // My half of the agreement: I call only people I follow or allow. Their site checks the other half.
    if (!(await mayCall(ctx.db, username, callee))) throw new ApiError('not_allowed', `you can call only people you follow or allow: follow ${callee} first`, { status: 403 });
    const env = createEnvelope({ type: TYPES.callSignal, from: localAddress(ctx.site, username), to, data: { call: { id: body.callId }, sealed: body.sealed } }, await ctx.signerFor(username));
    const ack = await ctx.outbox.deliverNow({ host: to.host, port: to.port }, JSON.stringify(env), env.id);
    if (!ack.ok) {
      if (ack.code === 'not_allowed') throw new ApiError('not_allowed', `${callee} takes calls only from people they follow or allow`, { status: 403 });
      const local = sameSite(to, ctx.site);
      throw new ApiError('unreachable', `${local ? callee : `${callee}'s site`} could not be reached: ${ack.message ?? ack.code ?? 'no answer'}`, { status: 502 });
    }
    void reply.status(202);
    return { delivered: true };
  }, { config: { rateLimit: { max: SIGNALS_PER_MINUTE, timeWindow: 60_000, keyGenerator: (request) => `calls:${request.headers.authorization ?? request.ip}` } } });

  /** "May call me": people I take calls from without following them. */
  contractRoute(app, 'callAllowed', async (request) => {
    const username = await requireUser(ctx, request);
    const rows = await ctx.db.selectFrom('call_allow').select(['address', 'created_at']).where('username', '=', username).orderBy('created_at', 'desc').execute();
    return { items: rows.map((r) => ({ address: r.address, since: new Date(Number(r.created_at)).toISOString() })) };
  });

  contractRoute(app, 'allowCalls', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const address = formatAddress(parseAddressInput(request.body.address));
    await ctx.db.insertInto('call_allow').values({ username, address, created_at: ctx.now() }).onConflict((oc) => oc.columns(['username', 'address']).doNothing()).execute();
    void reply.status(201);
    return { address, allowed: true };
  });

  contractRoute(app, 'disallowCalls', async (request, reply) => {
    const username = await requireUser(ctx, request);
    const address = formatAddress(parseAddressInput(request.params.address));
    const result = await ctx.db.deleteFrom('call_allow').where('username', '=', username).where('address', '=', address).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`${address} in the people who may call you`);
    return reply.status(204).send();
  });

  contractRoute(app, 'turnCredentials', async (request) => {
    const username = await requireUser(ctx, request);
    const turn = ctx.config.turn;
    if (!turn) throw new ApiError('turn_not_configured', 'this site has no TURN relay: calls use direct paths only (the operator can add one with "hearth start --turn")', { status: 404 });
    return { urls: turnUrls(ctx.site.host, turn.port), ...turnCredentials(turn.secret, username, ctx.now()) };
  });
};
