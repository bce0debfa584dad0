import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { readEnv } from './config.js';
import { Context } from './context.js';
import pino from 'pino';
import { loadSiteConfig } from './site-config.js';
import { startCoturn } from './turn/coturn.js';

export interface RunningSite {
  ctx: Context;
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Opens a site's data folder, listens on its URL's port, and starts background delivery. */
export async function startSite(options: { dataDir: string; logLevel?: string; listenHost?: string; listenPort?: number; webDir?: string; turn?: boolean }): Promise<RunningSite> {
  const env = readEnv();
  let config = loadSiteConfig(options.dataDir);
  // --turn: coturn first (it may add TURN settings to hearth.json), so the site hands out its credentials.
  const coturn = options.turn ? await startCoturn(config, pino({ level: options.logLevel ?? env.logLevel ?? 'info' })) : undefined;
  if (coturn) config = loadSiteConfig(options.dataDir);
  const ctx = await Context.open({ config, logLevel: options.logLevel ?? env.logLevel, webDir: options.webDir }).catch(async (error: unknown) => {
    await coturn?.stop();
    throw error;
  });
  const app = await buildApp(ctx);
  // A dev site on loopback listens on loopback only; a public site on every interface.
  const host = options.listenHost ?? env.listenHost ?? (config.dev ? config.site.host.replace(/^\[|\]$/g, '') : '0.0.0.0');
  try {
    // Behind a reverse proxy the public port (in the URL) is the proxy's; Hearth listens on its own.
    await app.listen({ port: options.listenPort ?? config.site.port, host: host === 'localhost' ? '127.0.0.1' : host });
  } catch (error) {
    await ctx.close();
    await coturn?.stop();
    throw error;
  }
  await ctx.startBackground();
  return {
    ctx,
    app,
    url: config.origin,
    close: async () => {
      await app.close();
      await ctx.close();
      await coturn?.stop();
    },
  };
}
