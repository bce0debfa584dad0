import dns from 'node:dns';
import fs from 'node:fs';
import { siteFromUrl, HearthError, isReservedUsername, isValidUsername } from '@hearth/protocol';
import { MIN_PASSWORD_LENGTH } from '../auth/passwords.js';
import { Context } from '../context.js';
import { createSiteConfig, databaseUrlFromEnv, defaultSchemaFor } from '../site-config.js';
import { createUser } from '../storage/users.js';
import { parseSiteDomain, showDomain, type SiteDomain } from './domains.js';
import { SqliteSiteRegistry, type ServiceSite, type SiteRegistry } from './registry.js';
import { PostgresSiteRegistry } from './postgres-registry.js';
import { randomUUID } from 'node:crypto';
import { REGISTRY_FILE, serviceSiteDir, serviceSiteUrl, type ServiceConfig } from './service-config.js';
import path from 'node:path';

/**
 * The service's registry: its SQLite file, or, once the service keeps its data in PostgreSQL
 * (service.json `database`), the table there that every instance shares. `watch`: the running
 * service, which follows changes made elsewhere.
 */
export async function openRegistry(config: ServiceConfig, options: { watch?: boolean; instance?: string } = {}): Promise<SiteRegistry> {
  if (config.database?.url) return PostgresSiteRegistry.open(config.database.url, options.instance ?? `cli-${process.pid}-${randomUUID().slice(0, 8)}`, options);
  return SqliteSiteRegistry.open(path.join(config.dataDir, REGISTRY_FILE));
}

export interface NewSite {
  domain: string;
  username: string;
  password: string;
  displayName?: string;
}

/**
 * Creates a site in the service: checks the domain (punycode shown for international names), the
 * first person's name and password, claims the domain in the registry (so two requests for one
 * domain cannot both win), then makes the site's folder, keys and first user. Anything that fails
 * leaves no half-made site behind.
 */
export async function addServiceSite(config: ServiceConfig, registry: SiteRegistry, input: NewSite, now = Date.now()): Promise<{ domain: SiteDomain; url: string }> {
  const domain = parseSiteDomain(input.domain, { allowLoopbackIp: config.dev });
  if (!isValidUsername(input.username) || isReservedUsername(input.username)) {
    throw new HearthError('invalid_request', 'a username is 1 to 32 of a-z, 0-9 and _, not starting with _', { status: 400 });
  }
  if (typeof input.password !== 'string' || input.password.length < MIN_PASSWORD_LENGTH) {
    throw new HearthError('invalid_request', `a password has at least ${MIN_PASSWORD_LENGTH} characters`, { status: 400 });
  }
  if (registry.get(domain.ascii)) throw domainTaken(domain);
  await checkPointsHere(config, domain);
  if (!(await registry.add(domain.ascii, domain.unicode, now))) throw domainTaken(domain);
  const dir = serviceSiteDir(config, domain.ascii);
  const url = serviceSiteUrl(config, domain.ascii);
  try {
    // A folder left by a site deleted outside the service would hold someone else's keys: refuse.
    if (fs.existsSync(dir)) throw new HearthError('domain_taken', `${dir} already exists: move it away before creating ${showDomain(domain)} again`, { status: 409 });
    // With a database for the service (service.json, or HEARTH_DATABASE_URL), the site keeps its data
    // there, in a schema of its own; hearth.json says so, so the site never depends on the environment.
    const databaseUrl = config.database?.url ?? databaseUrlFromEnv();
    const siteConfig = createSiteConfig(dir, { url, dev: config.dev, ...(databaseUrl ? { database: { url: databaseUrl, schema: defaultSchemaFor(siteFromUrl(url)) } } : {}) });
    const ctx = await Context.open({ config: siteConfig, logLevel: 'warn' });
    try {
      await createUser(ctx.db, { username: input.username, password: input.password, displayName: input.displayName }, now);
    } finally {
      await ctx.close();
    }
  } catch (error) {
    await registry.remove(domain.ascii);
    if (!(error instanceof HearthError && error.code === 'domain_taken')) fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return { domain, url };
}

/**
 * A site's certificate can only be issued once its domain points at this service: say so now,
 * with what to do, rather than leave a site nobody can reach. (Checked when the service knows its
 * public addresses, `hearth service settings --public-address`; a dev service never checks.)
 */
async function checkPointsHere(config: ServiceConfig, domain: SiteDomain): Promise<void> {
  const ours = config.publicAddresses ?? [];
  if (config.dev || ours.length === 0) return;
  const found = await dns.promises.lookup(domain.ascii, { all: true }).then(
    (list) => list.map((a) => a.address),
    () => [] as string[],
  );
  if (found.some((ip) => ours.includes(ip))) return;
  const now = found.length ? `it points at ${found.join(', ')}` : 'it has no address yet';
  throw new HearthError('dns_not_ready', `${showDomain(domain)} does not point at this service: ${now}. Add an A record for ${ours.filter((ip) => !ip.includes(':')).join(' or ') || ours.join(' or ')} (and AAAA for IPv6), wait a few minutes for it to spread, then try again`, { status: 409, retryable: true });
}

function domainTaken(domain: SiteDomain): HearthError {
  return new HearthError('domain_taken', `${showDomain(domain)} is already a site on this service: choose another name`, { status: 409 });
}

/** The site a domain names, or a clear error. */
export function requireServiceSite(registry: SiteRegistry, input: string, config: ServiceConfig): ServiceSite {
  const domain = parseSiteDomain(input, { allowLoopbackIp: config.dev });
  const site = registry.get(domain.ascii);
  if (!site) throw new HearthError('unknown_site', `${showDomain(domain)} is not a site on this service`, { status: 404 });
  return site;
}
