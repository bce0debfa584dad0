import type { FastifyPluginAsync } from 'fastify';
import type { Context } from '../context.js';
import { userForToken } from '../http-helpers.js';

/**
 * Live events for a logged-in page: the page opens /api/live and sends {"token": ...} first
 * (a token in a URL would end up in logs). Then the site sends {"type":"feed"} or
 * {"type":"notification","kind"} as things arrive. Nothing else is accepted.
 */
export const liveRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  app.get('/api/live', { websocket: true }, (socket) => {
    // The socket's later messages come outside this request: keep its site (see site-scope.ts).
    const site = ctx.self;
    const authTimer = setTimeout(() => socket.close(4001, 'authenticate first'), 10_000);
    let unsubscribe: (() => void) | undefined;
    socket.once('message', (data: Buffer) => {
      clearTimeout(authTimer);
      let token: unknown;
      try {
        token = (JSON.parse(data.toString('utf8')) as { token?: unknown }).token;
      } catch {
        return socket.close(4001, 'send {"token": ...} first');
      }
      userForToken(site, token).then(
        (username) => {
          if (socket.readyState !== socket.OPEN) return;
          const send = (event: object) => socket.send(JSON.stringify(event));
          unsubscribe = site.live.subscribe(username, send);
          socket.on('message', () => socket.close(4002, 'this socket only sends'));
          send({ type: 'ready' });
        },
        () => socket.close(4001, 'not logged in'),
      );
    });
    socket.on('close', () => {
      clearTimeout(authTimer);
      unsubscribe?.();
    });
  });
};
