import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { readEnv } from './config.js';
import { Context } from './context.js';
import { loadSiteConfig, type SiteConfig } from './site-config.js';
import { prepareCoturn, startCoturn } from './turn/coturn.js';
import { claimRunLock } from './run-lock.js';

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
  const release = claimRunLock(options.dataDir, 'the site');
  try {
    return await startClaimed(options, config, env, release);
  } catch (error) {
    release();
    throw error;
  }
}

async function startClaimed(options: { dataDir: string; logLevel?: string; listenHost?: string; listenPort?: number; webDir?: string; turn?: boolean }, config: SiteConfig, env: ReturnType<typeof readEnv>, release: () => void): Promise<RunningSite> {
  // --turn: TURN settings first (a fresh secret the first time), so the site loads them and hands out credentials.
  const prepared = options.turn ? prepareCoturn(config) : undefined;
  if (prepared) config = loadSiteConfig(options.dataDir);
  const ctx = await Context.open({ config, logLevel: options.logLevel ?? env.logLevel, webDir: options.webDir });
  const coturn = prepared
    ? await startCoturn(config, prepared, ctx.log).catch(async (error: unknown) => {
        await ctx.close();
        throw error;
      })
    : undefined;
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
      release();
    },
  };
}
