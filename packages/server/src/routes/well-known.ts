import { formatSite, parseAddress, sameSite } from '@hearth/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { findUser } from '../storage/users.js';

export const wellKnownRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  /** WebFinger (RFC 7033): acct:alice@host[:port] -> links to the profile and its JSON. */
  app.get('/.well-known/webfinger', async (request, reply) => {
    const resource = (request.query as { resource?: string }).resource;
    if (typeof resource !== 'string' || !resource.startsWith('acct:')) throw badRequest('invalid_request', 'resource must be acct:name@host');
    const address = parseAddress(resource.slice(5));
    if (!sameSite(address, ctx.site)) throw notFound(`${resource} (this site is ${formatSite(ctx.site)})`);
    const user = await findUser(ctx.db, address.username);
    if (!user) throw notFound(resource);
    const origin = ctx.config.origin;
    void reply.header('content-type', 'application/jrd+json; charset=utf-8').header('access-control-allow-origin', '*');
    return {
      subject: resource,
      aliases: [`${origin}/@${user.username}`],
      links: [
        { rel: 'self', type: 'application/json', href: `${origin}/api/users/${user.username}` },
        { rel: 'http://webfinger.net/rel/profile-page', type: 'text/html', href: `${origin}/@${user.username}` },
      ],
    };
  });

  /** The Hearth server document: what another site needs to link to this one, and reach it through relays. */
  app.get('/.well-known/hearth', async (_request, reply) => {
    void reply.header('access-control-allow-origin', '*');
    return ctx.discoveryDocument();
  });
};
