import { EnvelopeError, LIMITS, parseEnvelopeText, RELAY_TUNNEL_PATH, TYPES, type Envelope } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { ApiError } from '../errors.js';

export const federationRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  // In this plugin JSON bodies stay raw bytes: the inbox applies the envelope's own size, depth and UTF-8 checks.
  app.removeContentTypeParser('application/json');
  // Up to a relay envelope's size; each type's own limit is applied when the envelope is parsed.
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: LIMITS.relayEnvelopeBytes }, (_request, body, done) => done(null, body));

  /** One envelope by plain HTTP(S): the fallback when no link is up, and the comment path of the original design. */
  app.post('/federation/inbox', { bodyLimit: LIMITS.relayEnvelopeBytes }, async (request, reply) => {
    if (!Buffer.isBuffer(request.body)) throw new ApiError('unsupported_media_type', 'send the envelope as application/json', { status: 415 });
    const result = await ctx.inbox.receiveText(request.body, {});
    if (result.status === 'duplicate') throw new ApiError('duplicate_envelope', `envelope ${result.id} was already received`, { status: 409 });
    void reply.status(202);
    return { ok: true, id: result.id, ...(result.results ? { results: result.results } : {}) };
  });

  /**
   * A relayed fetch (PROTOCOL.md §9): a `relay.fetch` envelope, checked like any envelope, then
   * answered at once: by this site if it is the destination, else by passing it on.
   */
  app.post('/federation/relay/fetch', { bodyLimit: 16 * 1024 }, async (request) => {
    if (!Buffer.isBuffer(request.body)) throw new ApiError('unsupported_media_type', 'send the envelope as application/json', { status: 415 });
    const env = parseEnvelopeText(request.body);
    if (env.type !== TYPES.relayFetch) throw new EnvelopeError('invalid_envelope', `this endpoint answers relay.fetch envelopes; send a ${env.type} envelope to /federation/inbox`, 400);
    await ctx.inbox.verify(env);
    return ctx.relay.fetch(env as Envelope<typeof TYPES.relayFetch>);
  });

  /** A friend's home vault reaching its own site through this one (PROTOCOL.md §9). */
  app.get(RELAY_TUNNEL_PATH, { websocket: true }, (socket) => {
    ctx.tunnels.accept(socket);
  });

  /** The site-to-site link. */
  app.get('/federation', { websocket: true }, (socket) => {
    ctx.links.accept(socket);
  });
};
