import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  addServiceSite,
  backupSite,
  caddyfile,
  claimRunLock,
  coturnConfig,
  createServiceConfig,
  DEFAULT_TURN_PORT,
  hashPassword,
  LETS_ENCRYPT,
  listBackups,
  loadServiceConfig,
  openRegistry,
  parseSiteDomain,
  requireServiceSite,
  restoreSite,
  ServiceHost,
  serviceExists,
  serviceSiteDir,
  serviceSiteUrl,
  showDomain,
  startCaddy,
  systemdUnits,
  updateServiceConfig,
} from '@hearth/server';
import { CliError } from '../errors.js';
import { findWebDir } from './site.js';

type HearthErrorLike = { code?: string; status: number };

/** Where a public service listens for Caddy, on loopback. */
const DEFAULT_BACKEND_PORT = 8080;

/**
 * `hearth service ...`: a hosting service, many sites in one process (issue 12). These commands
 * write the service's registry and the sites' folders; a running service reads the registry at
 * each request, so a site added or suspended here takes effect at once.
 */
export function serviceInit(options: { data: string; dev?: boolean; port?: string }, out: (line: string) => void): void {
  const dataDir = path.resolve(options.data);
  if (serviceExists(dataDir)) throw new CliError(`${dataDir} already holds a hosting service`);
  const port = options.port === undefined ? undefined : Number(options.port);
  const config = wrap(() => createServiceConfig(dataDir, { dev: Boolean(options.dev), port }));
  out(`Created a ${config.dev ? 'development ' : ''}hosting service in ${dataDir}.`);
  out(`Add a site: hearth service add DOMAIN --user NAME --data ${options.data}`);
  out(`Run it:     hearth service start --data ${options.data}${config.dev ? ` --port ${config.port}` : ''}`);
}

export async function serviceAdd(options: { data: string; domain: string; user: string; password: string; name?: string }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  const registry = await openRegistry(config);
  try {
    const site = await wrapAsync(() => addServiceSite(config, registry, { domain: options.domain, username: options.user, password: options.password, displayName: options.name }));
    out(`Created ${showDomain(site.domain)}: ${site.url}`);
    out(`${options.user} can sign in at ${site.url}/login`);
    if (!config.dev) out(`Point the domain's DNS (A/AAAA records) at this machine; its certificate is issued on the first visit.`);
  } finally {
    await registry.close();
  }
}

export async function serviceList(options: { data: string; json?: boolean }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  const registry = await openRegistry(config);
  try {
    const sites = registry.list();
    if (options.json) return out(JSON.stringify({ sites: sites.map((s) => ({ ...s, url: serviceSiteUrl(config, s.domain) })) }));
    if (sites.length === 0) return out('No sites yet: add one with "hearth service add DOMAIN --user NAME".');
    for (const s of sites) out(`${showDomain({ ascii: s.domain, unicode: s.unicode })}  ${s.status}  since ${new Date(s.createdAt).toISOString().slice(0, 10)}  ${serviceSiteUrl(config, s.domain)}`);
  } finally {
    await registry.close();
  }
}

export async function serviceSetStatus(options: { data: string; domain: string; status: 'active' | 'suspended' }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  const registry = await openRegistry(config);
  try {
    const site = wrap(() => requireServiceSite(registry, options.domain, config));
    if (site.status === options.status) throw new CliError(`${site.domain} is already ${options.status}`);
    await registry.setStatus(site.domain, options.status, Date.now());
    out(options.status === 'suspended' ? `${site.domain} is suspended: it answers 503 with a notice, and keeps all its data.` : `${site.domain} is active again.`);
  } finally {
    await registry.close();
  }
}

function portOption(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`${flag} must be a port number (1 to 65535)`, 2);
  return port;
}

/** `hearth service caddyfile`: where certificates come from (kept in service.json), and the Caddyfile itself. */
export function serviceCaddyfile(options: { data: string; out?: string; acmeDirectory?: string; acmeCaRoot?: string; email?: string; port?: string }, out: (line: string) => void): void {
  let config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  if (options.acmeDirectory !== undefined && !/^https:\/\/[^\s]+$/.test(options.acmeDirectory)) throw new CliError('--acme-directory must be an https URL, like https://acme-v02.api.letsencrypt.org/directory', 2);
  if (options.acmeCaRoot !== undefined && !fs.existsSync(options.acmeCaRoot)) throw new CliError(`--acme-ca-root: there is no file ${options.acmeCaRoot}`, 2);
  if (options.acmeDirectory !== undefined || options.acmeCaRoot !== undefined || options.email !== undefined) {
    config = updateServiceConfig(config, (raw) => ({
      ...raw,
      acme: {
        ...raw.acme,
        ...(options.acmeDirectory !== undefined ? { directory: options.acmeDirectory } : {}),
        ...(options.acmeCaRoot !== undefined ? { caRoot: path.resolve(options.acmeCaRoot) } : {}),
        ...(options.email !== undefined ? { email: options.email } : {}),
      },
    }));
  }
  const text = wrap(() => caddyfile(config, { backendPort: portOption(options.port, '--port') ?? DEFAULT_BACKEND_PORT, acme: config.acme }));
  if (!options.out) return out(text.trimEnd());
  fs.writeFileSync(options.out, text, { mode: 0o600 });
  out(`Wrote ${options.out}: certificates from ${config.acme?.directory ?? LETS_ENCRYPT}, on demand, for this service's sites only.`);
}

export async function serviceStart(options: { data: string; host?: string; port?: string; logLevel?: string; caddy?: boolean; httpPort?: string; httpsPort?: string }, out: (line: string) => void): Promise<{ close: () => Promise<void> }> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  // A dev service listens on the port in its sites' URLs; a public one behind Caddy (which owns 443).
  const port = options.port === undefined ? (config.dev ? config.port : DEFAULT_BACKEND_PORT) : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('--port must be a port number', 2);
  // One process per folder, unless the service runs as several instances (its registry in
  // PostgreSQL, its folder shared by the machines; docs/SCALING.md).
  let release: () => void = () => undefined;
  if (!config.database) {
    try {
      release = claimRunLock(config.dataDir, 'the hosting service');
    } catch (error) {
      throw new CliError((error as Error).message);
    }
  }
  const registry = await openRegistry(config, { watch: true });
  const host = new ServiceHost(config, registry, { logLevel: options.logLevel, webDir: findWebDir() });
  // Production: Caddy in front terminates TLS and proxies here over loopback.
  const listenHost = options.host ?? (config.dev ? '0.0.0.0' : '127.0.0.1');
  let bound;
  try {
    bound = await host.listen(listenHost, port);
    out(`Hearth hosting service on ${listenHost}:${bound.port}, ${registry.list().length} site(s)`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    release();
    await registry.close();
    if (code === 'EADDRINUSE') throw new CliError(`port ${port} is already in use: is the service already running?`);
    throw error;
  }
  let caddy: { stop: () => Promise<void> } | undefined;
  if (options.caddy) {
    try {
      const text = caddyfile(config, { backendPort: bound.port, acme: config.acme, httpPort: portOption(options.httpPort, '--http-port'), httpsPort: portOption(options.httpsPort, '--https-port') });
      caddy = await startCaddy(config, text, host.logger);
      out(`Caddy serves the sites over HTTPS (certificates from ${config.acme?.directory ?? LETS_ENCRYPT}, on demand)`);
    } catch (error) {
      await host.close();
      await registry.close();
      release();
      throw asCliError(error);
    }
  }
  return {
    close: async () => {
      await caddy?.stop();
      await host.close();
      await registry.close();
      release();
    },
  };
}

/** A site's refusal (a HearthError) said at the terminal: exit code 2 for bad input, 1 otherwise. */
function asCliError(error: unknown): unknown {
  const e = error as HearthErrorLike;
  return e.code && e.status ? new CliError((error as Error).message, e.status < 500 ? 2 : 1) : error;
}

function wrap<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw asCliError(error);
  }
}

async function wrapAsync<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw asCliError(error);
  }
}

/** `hearth service backup DOMAIN`: a consistent backup of one site, taken while it serves. */
export async function serviceBackup(options: { data: string; domain: string; out?: string }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  const registry = await openRegistry(config);
  try {
    const site = wrap(() => requireServiceSite(registry, options.domain, config));
    const made = await wrapAsync(() => backupSite(config, registry, site.domain, { out: options.out }));
    out(`Backed up ${site.domain} to ${made.file} (${(made.bytes / 1024).toFixed(0)} KB)`);
  } finally {
    await registry.close();
  }
}

/** `hearth service backups DOMAIN`: the backups kept for a site, newest first. */
export async function serviceBackups(options: { data: string; domain: string; json?: boolean }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  const registry = await openRegistry(config);
  try {
    const site = wrap(() => requireServiceSite(registry, options.domain, config));
    const list = listBackups(config, site.domain);
    if (options.json) return out(JSON.stringify({ backups: list }));
    if (list.length === 0) return out(`No backups of ${site.domain} yet: make one with "hearth service backup ${site.domain}" (the running service makes one a day).`);
    for (const b of list) out(`${b.createdAt}  ${(b.bytes / 1024).toFixed(0).padStart(8)} KB  ${b.file}`);
  } finally {
    await registry.close();
  }
}

/** `hearth service restore FILE`: one site back from its backup; the others are not touched. */
export async function serviceRestore(options: { data: string; from: string }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  const registry = await openRegistry(config);
  try {
    const restored = await wrapAsync(() => restoreSite(config, registry, path.resolve(options.from)));
    const now = registry.get(restored.domain);
    out(`Restored ${restored.domain} from ${options.from}.${restored.previous ? ` Its folder before the restore is kept in ${restored.previous}.` : ''}`);
    if (now?.status === 'suspended') out(`It is still suspended: hearth service resume ${restored.domain} --data ${options.data}`);
  } finally {
    await registry.close();
  }
}

/** `hearth service delete DOMAIN`: the site stops (410, a notice); its data is kept for the grace period. */
export async function serviceDelete(options: { data: string; domain: string }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  const registry = await openRegistry(config);
  try {
    const site = wrap(() => requireServiceSite(registry, options.domain, config));
    if (site.status === 'deleted') throw new CliError(`${site.domain} is already deleted`);
    await registry.setStatus(site.domain, 'deleted', Date.now());
    const days = config.deleteGraceDays ?? 30;
    out(`${site.domain} is deleted: it answers 410 with a notice. Its data stays in ${serviceSiteDir(config, site.domain)} for ${days} days (restore it from a backup until then); "hearth service purge" removes it after that.`);
  } finally {
    await registry.close();
  }
}

/** `hearth service purge`: removes for good the sites deleted longer ago than the grace period. */
export async function servicePurge(options: { data: string }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  const registry = await openRegistry(config);
  try {
    const graceMs = (config.deleteGraceDays ?? 30) * 86_400_000;
    const due = registry.list().filter((s) => s.status === 'deleted' && !s.open && Date.now() - (s.suspendedAt ?? 0) >= graceMs);
    for (const site of due) {
      fs.rmSync(serviceSiteDir(config, site.domain), { recursive: true, force: true });
      await registry.remove(site.domain);
      out(`Removed ${site.domain} (deleted ${new Date(site.suspendedAt ?? 0).toISOString().slice(0, 10)}).`);
    }
    if (due.length === 0) out('Nothing to remove: no site was deleted longer ago than the grace period.');
  } finally {
    await registry.close();
  }
}

/** `hearth service systemd`: units for the service and for Caddy in front (and the Caddyfile they use). */
export function serviceSystemd(options: { data: string; user: string; out?: string; port?: string }, out: (line: string) => void): void {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(options.user)) throw new CliError('--user must be a system user name, like hearth', 2);
  const backendPort = portOption(options.port, '--port') ?? DEFAULT_BACKEND_PORT;
  const hearthJs = path.resolve(process.argv[1] ?? 'hearth');
  const units = systemdUnits({ dataDir: config.dataDir, user: options.user, node: process.execPath, hearth: hearthJs, caddy: '/usr/bin/caddy', backendPort, ...(config.turn ? { coturn: '/usr/bin/turnserver' } : {}) });
  fs.writeFileSync(path.join(config.dataDir, 'Caddyfile'), caddyfile(config, { backendPort, acme: config.acme }), { mode: 0o600 });
  if (!options.out) {
    for (const [name, text] of Object.entries(units)) out(`# ${name}\n${text}`);
    return;
  }
  fs.mkdirSync(options.out, { recursive: true });
  for (const [name, text] of Object.entries(units)) fs.writeFileSync(path.join(options.out, name), text);
  out(`Wrote ${Object.keys(units).map((n) => path.join(options.out!, n)).join(' and ')}, and ${path.join(config.dataDir, 'Caddyfile')}.`);
  out(`Then: chown -R ${options.user} ${config.dataDir} && systemctl daemon-reload && systemctl enable --now ${Object.keys(units).join(' ')}`);
}

/** `hearth service admin`: the panel's administrator (the password is kept as an Argon2id hash). */
export async function serviceAdmin(options: { data: string; user: string; password: string }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  if (!/^[a-z0-9_.-]{1,64}$/i.test(options.user)) throw new CliError('--user: use 1 to 64 letters, digits, ".", "_" or "-"', 2);
  if (options.password.length < 10) throw new CliError('--password: use at least 10 characters', 2);
  const passwordHash = await hashPassword(options.password);
  updateServiceConfig(config, (raw) => ({ ...raw, panel: { ...raw.panel, admin: { username: options.user, passwordHash } } }));
  out(`${options.user} can sign in to the panel${config.panel?.host ? ` at ${serviceSiteUrl(config, config.panel.host)}/` : ' (set its host with "hearth service settings --panel-host NAME")'}. Restart the service to apply.`);
}

/** `hearth service settings`: the panel's host name and the public signup page. */
export function serviceSettings(options: { data: string; panelHost?: string; baseDomain?: string; signup?: string; publicAddress?: string[] }, out: (line: string) => void): void {
  let config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  for (const ip of options.publicAddress ?? []) if (net.isIP(ip) === 0) throw new CliError(`--public-address ${ip}: not an IP address`, 2);
  if (options.signup !== undefined && options.signup !== 'on' && options.signup !== 'off') throw new CliError('--signup: say on or off', 2);
  const panelHost = options.panelHost === undefined ? undefined : wrap(() => parseSiteDomain(options.panelHost!, { allowLoopbackIp: config.dev })).ascii;
  const baseDomain = options.baseDomain === undefined ? undefined : wrap(() => parseSiteDomain(options.baseDomain!)).ascii;
  const base = baseDomain ?? config.signup?.baseDomain;
  if (options.signup === 'on' && !base) throw new CliError('--signup on needs --base-domain (new sites are NAME.BASE)', 2);
  config = updateServiceConfig(config, (raw) => ({
    ...raw,
    ...(panelHost ? { panel: { ...raw.panel, host: panelHost } } : {}),
    ...(options.publicAddress ? { publicAddresses: options.publicAddress } : {}),
    ...(options.signup !== undefined || baseDomain ? { signup: { enabled: options.signup === undefined ? (raw.signup?.enabled ?? false) : options.signup === 'on', ...(base ? { baseDomain: base } : {}) } } : {}),
  }));
  if (config.publicAddresses?.length) out(`New sites must point at ${config.publicAddresses.join(' or ')}.`);
  out(`Panel: ${config.panel?.host ? `${serviceSiteUrl(config, config.panel.host)}/` : 'no host set'}; public signup: ${config.signup?.enabled ? `on, at ${config.panel?.host ? serviceSiteUrl(config, config.panel.host) : 'the panel host'}/signup, sites named NAME.${config.signup.baseDomain}` : 'off'}. Restart the service to apply.`);
}

/** `hearth service quota DOMAIN`: the limits of one site (storage, posts per hour); "none" lifts one. */
export async function serviceQuota(options: { data: string; domain: string; storageMb?: string; postsPerHour?: string; relayMbPerDay?: string }, out: (line: string) => void): Promise<void> {
  const config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  const registry = await openRegistry(config);
  try {
    const site = wrap(() => requireServiceSite(registry, options.domain, config));
    const limit = (text: string | undefined, flag: string, current: number | undefined, scale: number): number | undefined => {
      if (text === undefined) return current;
      if (text === 'none') return undefined;
      const n = Number(text);
      if (!Number.isFinite(n) || n <= 0) throw new CliError(`${flag} must be a number above 0, or "none"`, 2);
      return Math.round(n * scale);
    };
    const quotas = {
      storageBytes: limit(options.storageMb, '--storage-mb', site.quotas.storageBytes, 1024 * 1024),
      postsPerHour: limit(options.postsPerHour, '--posts-per-hour', site.quotas.postsPerHour, 1),
      relayBytesPerDay: limit(options.relayMbPerDay, '--relay-mb-per-day', site.quotas.relayBytesPerDay, 1024 * 1024),
    };
    await registry.setQuotas(site.domain, quotas);
    out(`${site.domain}: storage ${quotas.storageBytes === undefined ? 'unlimited' : `${(quotas.storageBytes / 1024 / 1024).toFixed(1)} MB`}, ${quotas.postsPerHour === undefined ? 'any number of posts' : `${quotas.postsPerHour} posts`} an hour, ${quotas.relayBytesPerDay === undefined ? 'any relay volume' : `${(quotas.relayBytesPerDay / 1024 / 1024).toFixed(1)} MB relayed for friends`} a day (the running service applies it within seconds).`);
  } finally {
    await registry.close();
  }
}

/** `hearth service turn`: one coturn for every site's calls (its shared secret kept in service.json). */
export function serviceTurn(options: { data: string; port?: string; minPort?: string; maxPort?: string; externalIp?: string }, out: (line: string) => void): void {
  let config = wrap(() => loadServiceConfig(path.resolve(options.data)));
  if (options.externalIp !== undefined && net.isIP(options.externalIp) === 0) throw new CliError(`--external-ip ${options.externalIp}: not an IP address`, 2);
  const current = config.turn;
  const turn = {
    secret: current?.secret ?? crypto.randomBytes(32).toString('base64url'),
    port: portOption(options.port, '--port') ?? current?.port ?? DEFAULT_TURN_PORT,
    minPort: portOption(options.minPort, '--min-port') ?? current?.minPort ?? 49152,
    maxPort: portOption(options.maxPort, '--max-port') ?? current?.maxPort ?? 65535,
    ...((options.externalIp ?? current?.externalIp) ? { externalIp: options.externalIp ?? current?.externalIp } : {}),
  };
  if (turn.minPort > turn.maxPort) throw new CliError('--min-port must not be above --max-port', 2);
  config = updateServiceConfig(config, (raw) => ({ ...raw, turn }));
  const file = path.join(config.dataDir, 'turnserver.conf');
  fs.writeFileSync(file, coturnConfig({ site: { host: config.dev ? '127.0.0.1' : 'hearth', port: turn.port }, dev: config.dev, dataDir: config.dataDir }, turn), { mode: 0o600 });
  out(`Wrote ${file}: coturn on port ${turn.port} (UDP and TCP), relaying on ${turn.minPort}-${turn.maxPort}. Every site of the service hands out credentials for it (restart the service to apply).`);
  out(`Run it with: turnserver -c ${file}   (or "hearth service systemd" adds hearth-coturn.service)`);
}
