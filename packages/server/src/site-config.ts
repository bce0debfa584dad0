import fs from 'node:fs';
import path from 'node:path';
import type { TurnSettings } from './turn/turn.js';
import { generateSigningKeyPair, HearthError, isLoopbackHost, siteFromUrl, type SigningKeyPair, type SiteName } from '@hearth/protocol';

/**
 * What `hearth init` writes into the data folder: the site's public URL, whether it runs in
 * development mode, and the server key that proves the site in link handshakes. The file is
 * created readable by its owner only (0600) because it holds that secret key.
 */
export interface SiteConfigFile {
  version: 1;
  url: string;
  dev: boolean;
  serverKey: SigningKeyPair;
  createdAt: string;
  /** Requests per minute per client address on the HTTP API (the inbox gets four times this). */
  requestsPerMinute?: number;
  /** Origins of separate front-end servers (or CDNs) serving the web app for this backend (CORS). */
  frontendOrigins?: string[];
  /** The site's own TURN relay (coturn), added by `hearth turn config` or `hearth start --turn`. */
  turn?: TurnSettings;
  /**
   * How many relays this site's relayed envelopes may pass (PROTOCOL.md §9): 1 (the default), or 2
   * when a friend's relay may itself need a relay to reach the destination. `hearth relay hops`.
   */
  relayHops?: number;
}

export interface SiteConfig extends SiteConfigFile {
  dataDir: string;
  site: SiteName;
  /** The base URL without a trailing slash. */
  origin: string;
  dbFile: string;
}

export const CONFIG_FILE = 'hearth.json';
export const DB_FILE = 'hearth.db';

export class SiteConfigError extends HearthError {
  constructor(message: string) {
    super('site_config', message, { status: 500 });
  }
}

export function normalizeSiteUrl(url: string, dev: boolean): { url: string; site: SiteName; dev: boolean } {
  const site = siteFromUrl(url);
  const parsed = new URL(url);
  if (parsed.pathname !== '/' || parsed.search || parsed.hash) throw new SiteConfigError('the site URL must be an origin only, like https://example.com');
  // A loopback URL can only be a development site: nothing outside this machine can reach it.
  const isDev = dev || isLoopbackHost(site.host);
  if (!isDev && parsed.protocol !== 'https:') throw new SiteConfigError('a public site must use https (or pass --dev for a local test site)');
  return { url: parsed.origin, site, dev: isDev };
}

export function siteExists(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, CONFIG_FILE));
}

export function createSiteConfig(dataDir: string, options: { url: string; dev: boolean }): SiteConfig {
  const normalized = normalizeSiteUrl(options.url, options.dev);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, CONFIG_FILE);
  if (fs.existsSync(file)) throw new SiteConfigError(`${file} already exists: this folder already holds a site`);
  const config: SiteConfigFile = {
    version: 1,
    url: normalized.url,
    dev: normalized.dev,
    serverKey: generateSigningKeyPair(),
    createdAt: new Date().toISOString(),
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return loadSiteConfig(dataDir);
}

export function loadSiteConfig(dataDir: string): SiteConfig {
  const file = path.join(dataDir, CONFIG_FILE);
  let raw: SiteConfigFile;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as SiteConfigFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SiteConfigError(`no site in ${dataDir}: run "hearth init --data ${dataDir}" first`);
    }
    throw new SiteConfigError(`${file} could not be read: ${(error as Error).message}`);
  }
  if (raw.version !== 1 || typeof raw.url !== 'string' || !raw.serverKey?.secretKey) {
    throw new SiteConfigError(`${file} is not a Hearth site configuration`);
  }
  if (raw.relayHops !== undefined && raw.relayHops !== 1 && raw.relayHops !== 2) {
    throw new SiteConfigError(`${file}: relayHops must be 1 or 2 (it is ${JSON.stringify(raw.relayHops)})`);
  }
  const normalized = normalizeSiteUrl(raw.url, raw.dev);
  return { ...raw, url: normalized.url, dev: normalized.dev, dataDir, site: normalized.site, origin: normalized.url, dbFile: path.join(dataDir, DB_FILE) };
}

/** Changes settings in hearth.json (written whole to a temporary file, then renamed into place). */
export function updateSiteConfigFile(dataDir: string, change: (raw: SiteConfigFile) => SiteConfigFile): SiteConfigFile {
  const file = path.join(dataDir, CONFIG_FILE);
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as SiteConfigFile;
  const next = change(raw);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
  return next;
}
