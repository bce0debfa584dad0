import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApp, localReader } from '../app.js';
import { Context } from '../context.js';
import { loadSiteConfig } from '../site-config.js';
import { isLoopbackIp } from '../http-helpers.js';
import { requestSite, runInSite } from '../site-scope.js';
import { escapeHtml } from '../web/html.js';
import { backupSite, listBackups, pruneBackups } from './backup.js';
import { showDomain } from './domains.js';
import type { ServiceMetrics } from './metrics.js';
import { Panel } from './panel.js';
import type { ServiceSite, SiteRegistry } from './registry.js';
import { serviceSiteDir, type ServiceConfig } from './service-config.js';

/** Paths the service answers itself, on any host; no site path starts with this. */
export const SERVICE_PREFIX = '/.hearth-service/';

export interface ServiceHostOptions {
  logLevel?: string;
  webDir?: string;
}

/**
 * The front of a hosting service (issue 12): one HTTP server and one Fastify app; each request
 * runs in the scope of the site its Host header names (its own Context: database, keys, users,
 * outbox), exactly as if that site ran alone. A site is opened at its first request, or at start
 * if it had been opened before (so its outbox and links resume); a site nobody has asked for
 * costs a registry row. Nothing crosses between sites but envelopes over the network, as between
 * two machines.
 */
export class ServiceHost {
  private readonly runtimes = new Map<string, Promise<Context>>();
  /** The sites open now, once opened (for the health endpoint). */
  private readonly openContexts = new Set<Context>();
  private app: FastifyInstance | undefined;
  private readonly log: Logger;
  private server: http.Server | undefined;
  private closing = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private backingUp: Promise<void> = Promise.resolve();
  private ready = false;
  /** Made by listen() before the first request is taken (the panel's too). */
  private metrics!: ServiceMetrics;
  private readonly panel: Panel;

  constructor(
    private readonly config: ServiceConfig,
    private readonly registry: SiteRegistry,
    private readonly options: ServiceHostOptions = {},
  ) {
    this.log = pino({ level: options.logLevel ?? 'info', base: { service: config.dataDir } });
    this.panel = new Panel(config, registry, this.log.child({ panel: true }), () => this.metrics.requestCounts());
  }

  /** The service's logger (for what runs beside it, like Caddy). */
  get logger(): Logger {
    return this.log;
  }

  async listen(host: string, port: number): Promise<{ port: number }> {
    this.metrics = await (await import('./metrics.js')).ServiceMetrics.load(this.registry, () => this.runtimes);
    this.app = await buildApp(requestSite, { logger: this.log, dev: this.config.dev });
    await this.app.ready();
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    await this.registry.markAllClosed();
    // Sites that were open before carry on with their background work (outbox, links, pulls).
    void this.resumeStarted();
    // A site suspended or deleted from the command line is closed within two seconds, even if
    // no request comes for it (a restore waits for that).
    this.timers.push(setInterval(() => void this.closeStopped(), 2_000));
    this.scheduleBackups();
    for (const timer of this.timers) timer.unref();
    return { port: (server.address() as { port: number }).port };
  }

  /** Closes the sites suspended or deleted since, and passes changed limits to the open ones. */
  private async closeStopped(): Promise<void> {
    for (const [domain, pending] of [...this.runtimes]) {
      const site = this.registry.get(domain);
      if (site?.status !== 'active') {
        await this.closeSite(domain).catch((error: unknown) => this.log.error({ site: domain, err: error }, 'site could not be closed'));
        continue;
      }
      const ctx = await pending.catch(() => undefined);
      if (ctx) ctx.quota.quotas = site.quotas;
    }
  }

  /**
   * Scheduled backups (service.json `backups`): every site not deleted gets one when its newest is
   * older than the period, and keeps the newest few. One at a time, so the service stays responsive.
   */
  private scheduleBackups(): void {
    const periodMs = (this.config.backups?.everyHours ?? 24) * 3_600_000;
    if (periodMs <= 0) return; // turned off
    const keep = this.config.backups?.keep ?? 7;
    const round = async () => {
      for (const site of this.registry.list()) {
        if (this.closing || site.status === 'deleted' || this.inPostgres(site.domain)) continue;
        const newest = listBackups(this.config, site.domain)[0];
        if (newest && Date.now() - Date.parse(newest.createdAt) < periodMs) continue;
        try {
          const made = await backupSite(this.config, this.registry, site.domain);
          pruneBackups(this.config, site.domain, keep);
          this.log.info({ site: site.domain, bytes: made.bytes }, 'site backed up');
        } catch (error) {
          this.log.error({ site: site.domain, err: error }, 'backup failed');
        }
      }
    };
    const tick = () => {
      this.backingUp = this.backingUp.then(round);
    };
    // The first round a minute after the start (sooner for a short period), then as often.
    this.timers.push(setInterval(tick, Math.max(1_000, Math.min(periodMs / 2, 60_000))));
  }

  /** The NATS bus as the open sites see it (one connection per process): 'connected' when any of them is. */
  private clusterState(): string {
    let state = 'no site open';
    for (const ctx of this.openContexts) {
      const now = ctx.bus?.state();
      if (now === 'connected') return now;
      if (now) state = now;
    }
    return state;
  }

  /** Sites whose data is in PostgreSQL are backed up with its tools, not by the schedule here. */
  private inPostgres(domain: string): boolean {
    try {
      return Boolean((JSON.parse(fs.readFileSync(path.join(serviceSiteDir(this.config, domain), 'hearth.json'), 'utf8')) as { database?: unknown }).database);
    } catch {
      return false;
    }
  }

  private async resumeStarted(): Promise<void> {
    for (const site of this.registry.list()) {
      if (this.closing) return;
      if (site.started && site.status === 'active') await this.runtime(site.domain).catch((error: unknown) => this.log.error({ site: site.domain, err: error }, 'site could not be opened'));
    }
    // Ready: every site that had work to resume has it running again.
    this.ready = true;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      const url = req.url ?? '/';
      if (url.startsWith(SERVICE_PREFIX)) return this.serviceRoute(req, res, url);
      if (this.panel.host && hostOf(req) === this.panel.host) return await this.panel.handle(req, res);
      const site = await this.siteFor(req);
      if (!site) return refuse(req, res, 404, 'unknown_site', 'No site here', `${hostOf(req) || 'This address'} is not a site on this service.`);
      if (site.status === 'deleted') {
        await this.closeSite(site.domain);
        const until = new Date((site.suspendedAt ?? Date.now()) + (this.config.deleteGraceDays ?? 30) * 86_400_000).toISOString().slice(0, 10);
        return refuse(req, res, 410, 'site_deleted', 'This site was deleted', `${showDomain({ ascii: site.domain, unicode: site.unicode })} was deleted by its host. Its data is kept until ${until}; if it is your site, your hosting provider can restore it until then.`);
      }
      if (site.status === 'suspended') {
        await this.closeSite(site.domain);
        return refuse(req, res, 503, 'site_suspended', 'This site is paused', `${showDomain({ ascii: site.domain, unicode: site.unicode })} is suspended by its host. Its posts and messages are kept; if it is your site, ask your hosting provider.`);
      }
      this.metrics.observe(site.domain, res, started);
      const ctx = await this.runtime(site.domain);
      runInSite(ctx, () => this.app!.routing(req, res));
    } catch (error) {
      this.log.error({ err: error }, 'request could not be served');
      if (!res.headersSent) refuse(req, res, 500, 'internal', 'Something went wrong', 'The site could not be opened; try again in a moment.');
    }
  }

  private async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    try {
      const site = await this.siteFor(req);
      if (!site || site.status !== 'active') {
        socket.end(`HTTP/1.1 ${site?.status === 'suspended' ? '503 Service Unavailable' : site ? '410 Gone' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const ctx = await this.runtime(site.domain);
      runInSite(ctx, () => this.app!.server.emit('upgrade', req, socket, head));
    } catch (error) {
      this.log.error({ err: error }, 'upgrade could not be served');
      socket.destroy();
    }
  }

  /** The site the Host header names (port and trailing dot ignored), if the service has it. */
  private async siteFor(req: http.IncomingMessage): Promise<ServiceSite | undefined> {
    const host = hostOf(req);
    return host ? this.siteNamed(host) : undefined;
  }

  /**
   * A site by its domain. One the registry's snapshot (PostgreSQL) does not have, or has as stopped,
   * is looked up again first: a command may have just added or resumed it.
   */
  private async siteNamed(domain: string): Promise<ServiceSite | undefined> {
    const site = this.registry.get(domain);
    if (site?.status === 'active') return site;
    await this.registry.refreshSoon();
    return this.registry.get(domain);
  }

  private serviceRoute(req: http.IncomingMessage, res: http.ServerResponse, url: string): void {
    const parsed = new URL(url, 'http://service');
    if (req.method === 'GET' && parsed.pathname === `${SERVICE_PREFIX}tls-allowed`) {
      // Caddy's on-demand TLS asks here before it requests a certificate: only for our own sites.
      const domain = (parsed.searchParams.get('domain') ?? '').toLowerCase().replace(/\.$/, '');
      if (domain && domain === this.panel.host) return json(res, 200, { ok: true, domain });
      void (domain ? this.siteNamed(domain) : Promise.resolve(undefined)).then((found) => {
        const site = found?.status === 'deleted' ? undefined : found;
        json(res, site ? 200 : 404, site ? { ok: true, domain } : { error: { code: 'unknown_site', message: `${domain || 'no domain given'} is not a site on this service` } });
      }, (error: unknown) => json(res, 500, { error: { code: 'internal', message: (error as Error).message } }));
      return;
    }
    if (req.method === 'GET' && parsed.pathname === `${SERVICE_PREFIX}health`) {
      return json(res, this.closing ? 503 : 200, { ok: !this.closing, sites: this.registry.list().length, open: this.runtimes.size, registry: this.config.database ? 'postgres' : 'sqlite', ...(process.env.HEARTH_NATS_URL ? { cluster: this.clusterState() } : {}) });
    }
    if (req.method === 'GET' && parsed.pathname === `${SERVICE_PREFIX}ready`) {
      const ready = this.ready && !this.closing;
      return json(res, ready ? 200 : 503, { ready, ...(ready ? {} : { message: this.closing ? 'stopping' : 'reopening the sites that were open' }) });
    }
    if (req.method === 'GET' && parsed.pathname === `${SERVICE_PREFIX}metrics`) {
      // From this machine only, and not through the TLS proxy (which adds X-Forwarded-For).
      if (!isLoopbackIp(req.socket.remoteAddress) || req.headers['x-forwarded-for'] !== undefined || req.headers.via !== undefined) {
        return json(res, 403, { error: { code: 'forbidden', message: 'metrics are read from the machine itself (http://127.0.0.1:PORT/.hearth-service/metrics)' } });
      }
      void this.metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
        res.end(text);
      }, (error: unknown) => json(res, 500, { error: { code: 'internal', message: (error as Error).message } }));
      return;
    }
    json(res, 404, { error: { code: 'not_found', message: `${req.method} ${parsed.pathname} does not exist` } });
  }

  private runtime(domain: string): Promise<Context> {
    let pending = this.runtimes.get(domain);
    if (!pending) {
      pending = this.open(domain);
      this.runtimes.set(domain, pending);
      pending.catch(() => this.runtimes.delete(domain));
    }
    return pending;
  }

  private async open(domain: string): Promise<Context> {
    const own = loadSiteConfig(serviceSiteDir(this.config, domain));
    // The service's coturn relays every site's calls: each site hands out credentials for it.
    const config = this.config.turn ? { ...own, turn: this.config.turn } : own;
    const ctx = await Context.open({ config, logger: this.log.child({ site: domain }), webDir: this.options.webDir });
    try {
      ctx.readLocal = localReader(this.app!, ctx);
      ctx.quota.quotas = this.registry.get(domain)?.quotas ?? {};
      await this.registry.setOpen(domain, true);
      await ctx.startBackground();
      await this.registry.markStarted(domain);
      this.openContexts.add(ctx);
      return ctx;
    } catch (error) {
      await ctx.close();
      await this.registry.setOpen(domain, false);
      throw error;
    }
  }

  private async closeSite(domain: string): Promise<void> {
    const pending = this.runtimes.get(domain);
    if (!pending) return;
    this.runtimes.delete(domain);
    const ctx = await pending;
    this.openContexts.delete(ctx);
    await ctx.close();
    await this.registry.setOpen(domain, false);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.backingUp;
    // No new connections; idle keep-alive ones end now, then each site closes its own sockets
    // (links, live pages, vaults) and finishes its work, and whatever is left is cut.
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeIdleConnections();
    await Promise.all([...this.runtimes.keys()].map((domain) => this.closeSite(domain).catch(() => undefined)));
    this.server?.closeAllConnections();
    await closed;
    await this.app?.close();
  }
}

/** The Host header's name: lowercase, without port or trailing dot. */
export function hostOf(req: http.IncomingMessage): string {
  const host = (req.headers.host ?? '').trim().toLowerCase();
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return name.replace(/\.$/, '');
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** A refusal as JSON for programs, or as a small page for a person's browser. */
function refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, code: string, title: string, message: string): void {
  if (status === 503) res.setHeader('retry-after', '3600');
  if (!(req.headers.accept ?? '').includes('text/html')) return json(res, status, { error: { code, message } });
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font:17px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#faf7f2;color:#2b2118}main{max-width:34rem;padding:2rem}h1{font-size:1.6rem;margin:0 0 .5rem}</style></head>
<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></main></body></html>`);
}
