import fs from 'node:fs';
import path from 'node:path';
import type { TurnSettings } from './turn/turn-settings.js';
import { createHash } from 'node:crypto';
import { SCHEMA_NAME, type DatabaseTarget } from './storage/dialect.js';
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
  /**
   * Where the site keeps its data when not in the embedded SQLite file (hearth.db): a PostgreSQL
   * database, in a schema of the site's own (docs/SCALING.md). `HEARTH_DATABASE_URL` gives the
   * URL when this is absent.
   */
  database?: { url: string; schema?: string; poolSize?: number };
  /**
   * Several instances of this site (docs/SCALING.md): the NATS server(s) they share, e.g.
   * nats://10.0.0.5:4222. Needs `database` (PostgreSQL). `HEARTH_NATS_URL` gives it when absent.
   */
  cluster?: { nats: string };
}

export interface SiteConfig extends SiteConfigFile {
  dataDir: string;
  site: SiteName;
  /** The base URL without a trailing slash. */
  origin: string;
  dbFile: string;
  /** Where the data is: `dbFile`, or PostgreSQL (from `database` or HEARTH_DATABASE_URL). */
  storage: DatabaseTarget;
  /** The NATS server(s) shared with the site's other instances (from `cluster` or HEARTH_NATS_URL), if any. */
  natsUrl?: string;
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

export function createSiteConfig(dataDir: string, options: { url: string; dev: boolean; database?: SiteConfigFile['database'] }): SiteConfig {
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
    ...(options.database ? { database: options.database } : {}),
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    return loadSiteConfig(dataDir);
  } catch (error) {
    fs.rmSync(file, { force: true }); // (a bad database setting): nothing half-made stays
    throw error;
  }
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
  const dbFile = path.join(dataDir, DB_FILE);
  const storage = storageTarget(raw, normalized.site, dbFile, file);
  const natsUrl = raw.cluster?.nats ?? (process.env.HEARTH_NATS_URL?.trim() || undefined);
  if (natsUrl !== undefined) {
    if (!/^(nats:\/\/)?[^\s,/]+(,(nats:\/\/)?[^\s,/]+)*$/.test(natsUrl)) throw new SiteConfigError(`${raw.cluster ? `${file}: cluster.nats` : 'HEARTH_NATS_URL'} must be nats://host:port (several separated by commas); it is ${JSON.stringify(natsUrl)}`);
    if (storage.kind !== 'postgres') throw new SiteConfigError(`${raw.cluster ? `${file}: cluster.nats` : 'HEARTH_NATS_URL'} is set, but several instances of a site share one PostgreSQL database, and this site keeps its data in ${dbFile}: set database (or HEARTH_DATABASE_URL) too, after "hearth migrate-storage" (docs/SCALING.md)`);
  }
  return { ...raw, url: normalized.url, dev: normalized.dev, dataDir, site: normalized.site, origin: normalized.url, dbFile, storage, ...(natsUrl ? { natsUrl } : {}) };
}

/** The PostgreSQL URL from the environment, if one is set there (a vendor sets it once for every site). */
export function databaseUrlFromEnv(): string | undefined {
  const url = process.env.HEARTH_DATABASE_URL?.trim();
  return url ? url : undefined;
}

function storageTarget(raw: SiteConfigFile, site: SiteName, dbFile: string, file: string): DatabaseTarget {
  const url = raw.database?.url ?? databaseUrlFromEnv();
  if (!url) return { kind: 'sqlite', file: dbFile };
  if (!/^postgres(ql)?:\/\//.test(url)) throw new SiteConfigError(`${raw.database ? `${file}: database.url` : 'HEARTH_DATABASE_URL'} must be a postgres:// URL (it is ${JSON.stringify(redactUrl(url))})`);
  const schema = raw.database?.schema ?? defaultSchemaFor(site);
  if (!SCHEMA_NAME.test(schema)) throw new SiteConfigError(`${file}: database.schema must be lower-case letters, digits and _ (it is ${JSON.stringify(schema)})`);
  const poolSize = raw.database?.poolSize;
  if (poolSize !== undefined && (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 100)) throw new SiteConfigError(`${file}: database.poolSize must be a whole number from 1 to 100`);
  return { kind: 'postgres', url, schema, ...(poolSize ? { poolSize } : {}) };
}

/**
 * The schema a site's tables live in, from its name: readable (site_example_com, with the port
 * when it is not the default) and unique, so many sites can share one database.
 */
export function defaultSchemaFor(site: SiteName): string {
  const name = `site_${site.host}${site.port !== 443 ? `_${site.port}` : ''}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (name.length <= 63) return name;
  return `${name.slice(0, 50)}_${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
}

/** A database URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
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
