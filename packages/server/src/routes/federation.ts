import { LIMITS } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { ApiError } from '../errors.js';

export const federationRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  // In this plugin JSON bodies stay raw bytes: the inbox applies the envelope's own size, depth and UTF-8 checks.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: LIMITS.envelopeBytes }, (_request, body, done) => done(null, body));

  /** One envelope by plain HTTP(S): the fallback when no link is up, and the comment path of the original design. */
  app.post('/federation/inbox', { bodyLimit: LIMITS.envelopeBytes }, async (request, reply) => {
    if (!Buffer.isBuffer(request.body)) throw new ApiError('unsupported_media_type', 'send the envelope as application/json', { status: 415 });
    const result = await ctx.inbox.receiveText(request.body, {});
    if (result.status === 'duplicate') throw new ApiError('duplicate_envelope', `envelope ${result.id} was already received`, { status: 409 });
    void reply.status(202);
    return { ok: true, id: result.id };
  });

  /** The site-to-site link. */
  app.get('/federation', { websocket: true }, (socket) => {
    ctx.links.accept(socket);
  });
};
