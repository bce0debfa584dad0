import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type RawRequestDefaultExpression } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';
import { EnvelopeError, formatSite, parseLimitedJson } from '@hearth/protocol';
import type { Context } from './context.js';
import { ApiError, errorBody } from './errors.js';
import { contractSchemaController } from './http-contract.js';
import { isLoopbackIp, requireUser } from './http-helpers.js';
import { runInSite } from './site-scope.js';
import rateLimit from '@fastify/rate-limit';
import { authRoutes } from './routes/auth.js';
import { dmRoutes } from './routes/dms.js';
import { federationRoutes } from './routes/federation.js';
import { followRoutes } from './routes/follows.js';
import { liveRoutes } from './routes/live.js';
import { mediaRoutes } from './routes/media.js';
import { postRoutes } from './routes/posts.js';
import { peopleRoutes } from './routes/people.js';
import { searchRoutes } from './routes/search.js';
import { setupRoutes } from './routes/setup.js';
import { publicSiteRoutes } from './routes/public-site.js';
import { socialRoutes } from './routes/social.js';
import { userRoutes } from './routes/users.js';
import { vaultRoutes } from './routes/vault.js';
import { callRoutes } from './routes/calls.js';
import { wellKnownRoutes } from './routes/well-known.js';
import { relayRoutes } from './routes/relay.js';

export const DEFAULT_REQUESTS_PER_MINUTE = 1200;

/** API bodies are small; nesting beyond this is an attack, not a request. */
const API_JSON_DEPTH = 32;

/**
 * Builds the Fastify app for one site. It never listens: `hearth start` (or a test) does.
 */
export interface SharedAppOptions {
  /** The service's logger; each request's lines carry the site it was for. */
  logger: Logger;
  dev: boolean;
}

/**
 * Builds the Fastify app for one site, or (`shared`) the one app of a hosting service, whose
 * `ctx` is `requestSite` (site-scope.ts): every request is run in its site's scope.
 */
export async function buildApp(ctx: Context, shared?: SharedAppOptions): Promise<FastifyInstance> {
  const dev = shared ? shared.dev : ctx.config.dev;
  const logger = (shared ? shared.logger : ctx.log) as unknown as FastifyBaseLogger;
  const app = Fastify({
    loggerInstance: logger,
    schemaController: contractSchemaController(logger),
    ...(shared ? { childLoggerFactory: (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions, raw: RawRequestDefaultExpression) => logger.child({ ...bindings, site: (raw.headers.host ?? '').replace(/:\d+$/, '') }, options) } : {}),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    // A public site sits behind a TLS-terminating proxy on the same machine: trust its
    // X-Forwarded-For (and nobody else's), so limits apply to the real client address.
    trustProxy: dev ? false : ['127.0.0.1', '::1'],
    return503OnClosing: true,
  });

  app.decorate('authenticate', (request: FastifyRequest) => requireUser(ctx, request));

  // Our own JSON parser: a depth check before JSON.parse, and errors in our format.
  // Bytes, not text: invalid UTF-8 is refused rather than silently replaced with U+FFFD.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      const bytes = body as Buffer;
      done(null, bytes.length === 0 ? {} : parseLimitedJson(bytes, { maxBytes: 256 * 1024, maxDepth: API_JSON_DEPTH }));
    } catch (error) {
      done(error as EnvelopeError, undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = errorBody(error);
    // A failure of ours gets a stack trace in the log; a known "not now" answer (key_unknown,
    // bad_remote_key, vault_offline...) is an expected condition and gets one line with its code.
    if (body.error.code === 'storage_full') ctx.storageTrouble(error);
    else if (status >= 500 && body.error.code === 'internal') request.log.error({ err: error, url: request.url }, 'request failed');
    else if (status >= 500) request.log.warn({ code: body.error.code, url: request.url }, 'request refused for now');
    // Rate limits (429) and "retry later" answers such as key_unknown say when.
    const retryAfterMs = (error as { retryAfterMs?: number }).retryAfterMs;
    if (typeof retryAfterMs === 'number' && retryAfterMs > 0) {
      reply.header('retry-after', Math.max(1, Math.ceil(retryAfterMs / 1000)));
    }
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'not_found', message: `${request.method} ${request.url.split('?')[0]} does not exist` } });
  });

  // The web app may be served by a separate front-end server (docs/DEPLOY.md): answer CORS for
  // the origins the site lists, and no others. Sessions are Bearer tokens, never cookies.
  const frontendsOf = (origins: string[] | undefined) => new Set((origins ?? []).map((o) => new URL(o).origin));
  const frontends = shared ? undefined : frontendsOf(ctx.config.frontendOrigins);
  if (shared || frontends!.size > 0) {
    app.addHook('onRequest', async (request, reply) => {
      const origin = request.headers.origin;
      if (typeof origin !== 'string' || !request.url.startsWith('/api/') || !(frontends ?? frontendsOf(ctx.config.frontendOrigins)).has(origin)) return;
      void reply
        .header('access-control-allow-origin', origin)
        .header('vary', 'origin')
        .header('access-control-allow-headers', 'authorization, content-type')
        .header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE')
        .header('access-control-max-age', '600');
      if (request.method === 'OPTIONS') return reply.status(204).send();
    });
  }

  await app.register(rateLimit, {
    max: (request) => (request.url.startsWith('/federation/inbox') ? 4 : 1) * (ctx.config.requestsPerMinute ?? DEFAULT_REQUESTS_PER_MINUTE),
    timeWindow: 60_000,
    // One app for many sites: each site counts its own clients.
    ...(shared ? { keyGenerator: (request: FastifyRequest) => `${request.hostname} ${request.ip}` } : {}),
    // On a dev site the loopback clients are its tester; nothing else can reach it.
    allowList: (request) => ctx.config.dev && isLoopbackIp(request.ip),
    errorResponseBuilder: (_request, context) => {
      const error = new ApiError('rate_limited', `too many requests: try again in ${Math.ceil(context.ttl / 1000)} s`, { status: 429 });
      (error as unknown as { retryAfterMs: number }).retryAfterMs = context.ttl;
      return error;
    },
  });
  await app.register(websocket, { options: { maxPayload: 128 * 1024 } });
  // For monitors: 503 while the disk is full (nothing can be stored); "damaged" when the start-up
  // checks found the database damaged or missing acknowledged writes.
  app.get('/healthz', async (_request, reply) => {
    const storage = ctx.storageState();
    // Where the data is, and (with several instances) whether the bus to the others is up: a bus
    // that is down costs only live events and vault requests across instances, so it is said, not failed.
    const where = { database: ctx.dialect, ...(ctx.bus ? { cluster: ctx.bus.state(), instance: ctx.instance } : {}) };
    if (ctx.dialect === 'postgres' && !(await ctx.databaseAnswers())) {
      return reply.status(503).send({ ok: false, storage: 'unavailable', ...where, message: 'PostgreSQL does not answer: see the log' });
    }
    if (storage === 'full') return reply.status(503).send({ ok: false, storage, ...where, message: 'the disk holding the database is full: free some space' });
    // Still serving, but the operator must look: a monitor can alert on `storage`.
    if (storage === 'damaged') return { ok: true, storage, ...where, message: `the database needs attention: ${ctx.databaseProblem}; see the log and docs/DEPLOY.md, "Recovery"` };
    return { ok: true, storage, ...where };
  });
  await app.register(wellKnownRoutes(ctx));
  await app.register(authRoutes(ctx));
  await app.register(userRoutes(ctx));
  await app.register(postRoutes(ctx));
  await app.register(followRoutes(ctx));
  await app.register(peopleRoutes(ctx));
  await app.register(searchRoutes(ctx));
  await app.register(socialRoutes(ctx));
  await app.register(dmRoutes(ctx));
  await app.register(federationRoutes(ctx));
  await app.register(liveRoutes(ctx));
  await app.register(mediaRoutes(ctx));
  await app.register(setupRoutes(ctx));
  await app.register(vaultRoutes(ctx));
  await app.register(callRoutes(ctx));
  await app.register(relayRoutes(ctx));
  await app.register(publicSiteRoutes(ctx));
  if (!shared) ctx.readLocal = localReader(app, ctx);
  return app;
}

/** A relayed fetch that ends at `ctx` reads the public document as any visitor would (no login). */
export function localReader(app: FastifyInstance, ctx: Context): Context['readLocal'] {
  return async (path, ifNoneMatch) => {
    const headers = { host: formatSite(ctx.site), accept: 'application/json', ...(ifNoneMatch ? { 'if-none-match': ifNoneMatch } : {}) };
    const res = await runInSite(ctx, () => app.inject({ method: 'GET', url: path, headers }));
    const etag = res.headers.etag;
    return { status: res.statusCode, body: res.body, ...(typeof etag === 'string' ? { etag } : {}) };
  };
}
