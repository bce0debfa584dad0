import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '@hearth/protocol';
import type { TurnSettings } from '../turn/turn-settings.js';

/**
 * A hosting service (issue 12): one `hearth service start` serving many sites, each on its own
 * domain, each in its own folder under `sites/` with its own keys, users and database. What
 * `hearth service init` writes in `service.json`: whether it is a development service (plain
 * http on loopback addresses) and the port its site URLs name.
 */
export interface ServiceConfigFile {
  version: 1;
  dev: boolean;
  /** The port in the sites' URLs: 443 behind Caddy (https), the service's own port for a dev service. */
  port: number;
  createdAt: string;
  /** Where Caddy gets certificates (`hearth service caddyfile --acme-directory ...`); Let's Encrypt when absent. */
  acme?: { directory?: string; caRoot?: string; email?: string };
  /** Scheduled backups of every site: how often (hours, default 24) and how many to keep (default 7). */
  backups?: { everyHours?: number; keep?: number };
  /** How long a deleted site's data is kept before `hearth service purge` removes it (days, default 30). */
  deleteGraceDays?: number;
  /** The vendor's panel: the host name it is served on, and its administrator (`hearth service admin`). */
  panel?: { host?: string; admin?: { username: string; passwordHash: string } };
  /** The public signup page (on the panel's host): new sites are NAME.baseDomain. */
  signup?: { enabled: boolean; baseDomain?: string };
  /** The service's public IP addresses: a new site's domain must resolve to one of them. */
  publicAddresses?: string[];
  /** One coturn for every site's calls (`hearth service turn`); each site hands out its own credentials. */
  turn?: TurnSettings;
  /**
   * PostgreSQL for the sites and the registry (set by `hearth migrate-storage --service`): new sites
   * keep their data there, each in its own schema, and the list of sites is a table every instance
   * of the service shares (docs/SCALING.md).
   */
  database?: { url: string };
}

export interface ServiceConfig extends ServiceConfigFile {
  dataDir: string;
}

export const SERVICE_FILE = 'service.json';
export const REGISTRY_FILE = 'service.db';

export class ServiceConfigError extends HearthError {
  constructor(message: string) {
    super('service_config', message, { status: 500 });
  }
}

export function serviceExists(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, SERVICE_FILE));
}

export function createServiceConfig(dataDir: string, options: { dev: boolean; port?: number }): ServiceConfig {
  const file = path.join(dataDir, SERVICE_FILE);
  if (fs.existsSync(file)) throw new ServiceConfigError(`${file} already exists: this folder already holds a service`);
  const port = options.port ?? (options.dev ? 4000 : 443);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ServiceConfigError(`--port must be a port number (1 to 65535), not ${options.port}`);
  fs.mkdirSync(path.join(dataDir, 'sites'), { recursive: true, mode: 0o700 });
  const config: ServiceConfigFile = { version: 1, dev: options.dev, port, createdAt: new Date().toISOString() };
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return loadServiceConfig(dataDir);
}

export function loadServiceConfig(dataDir: string): ServiceConfig {
  const file = path.join(dataDir, SERVICE_FILE);
  let raw: ServiceConfigFile;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as ServiceConfigFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ServiceConfigError(`no hosting service in ${dataDir}: run "hearth service init --data ${dataDir}" first`);
    throw new ServiceConfigError(`${file} could not be read: ${(error as Error).message}`);
  }
  if (raw.version !== 1 || typeof raw.dev !== 'boolean' || !Number.isInteger(raw.port)) throw new ServiceConfigError(`${file} is not a Hearth service configuration`);
  return { ...raw, dataDir };
}

/** A site's folder in the service: named by its ASCII domain, which the registry has checked. */
export function serviceSiteDir(config: ServiceConfig, domain: string): string {
  return path.join(config.dataDir, 'sites', domain);
}

/** A site's public URL: https on the default port, or plain http on the dev service's port. */
export function serviceSiteUrl(config: ServiceConfig, domain: string): string {
  if (config.dev) return `http://${domain}:${config.port}`;
  return config.port === 443 ? `https://${domain}` : `https://${domain}:${config.port}`;
}

/** Changes service.json (written whole to a temporary file, then renamed into place). */
export function updateServiceConfig(config: ServiceConfig, change: (raw: ServiceConfigFile) => ServiceConfigFile): ServiceConfig {
  const file = path.join(config.dataDir, SERVICE_FILE);
  const { dataDir: _dataDir, ...raw } = loadServiceConfig(config.dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(change(raw), null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
  return loadServiceConfig(config.dataDir);
}
