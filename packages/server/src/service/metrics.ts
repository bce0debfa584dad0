import type http from 'node:http';
import type { Counter, Histogram, Registry } from 'prom-client';
import type { Context } from '../context.js';
import type { SiteRegistry } from './registry.js';

/**
 * Prometheus metrics of a hosting service (issue 12), from prom-client: the process (memory, CPU,
 * event loop), and per site the requests it served by status class, how long they took, and, for
 * the sites open now, what waits in their outboxes. Read at GET /.hearth-service/metrics, from
 * this machine only (see ServiceHost).
 *
 * prom-client is loaded by `load`, when a service starts: a single site (`hearth start`) never
 * serves these metrics and does not keep the module resident (about 1.5 MB of heap).
 */
export class ServiceMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<'site' | 'status'>;
  private readonly duration: Histogram<'site'>;

  static async load(sites: SiteRegistry, openSites: () => Map<string, Promise<Context>>): Promise<ServiceMetrics> {
    return new ServiceMetrics(await import('prom-client'), sites, openSites);
  }

  private constructor(prom: typeof import('prom-client'), sites: SiteRegistry, openSites: () => Map<string, Promise<Context>>) {
    const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = prom;
    this.registry = new Registry();
    collectDefaultMetrics({ register: this.registry, prefix: 'hearth_' });
    this.requests = new Counter({ name: 'hearth_site_requests_total', help: 'HTTP requests served, per site and status class', labelNames: ['site', 'status'], registers: [this.registry] });
    this.duration = new Histogram({ name: 'hearth_site_request_seconds', help: 'Time to answer a request, per site', labelNames: ['site'], buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 1, 5], registers: [this.registry] });
    new Gauge({
      name: 'hearth_service_sites',
      help: 'Sites of the service, by state',
      labelNames: ['status'],
      registers: [this.registry],
      collect() {
        const counts = { active: 0, suspended: 0, deleted: 0 };
        for (const site of sites.list()) counts[site.status]++;
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'hearth_service_open_sites',
      help: 'Sites open in this process (database and background work)',
      registers: [this.registry],
      collect() {
        this.set(openSites().size);
      },
    });
    new Gauge({
      name: 'hearth_site_outbox_pending',
      help: 'Envelopes waiting in the outbox of each open site',
      labelNames: ['site'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [domain, pending] of openSites()) {
          const ctx = await pending.catch(() => undefined);
          if (!ctx) continue;
          const row = await ctx.db.selectFrom('outbox').select((eb) => eb.fn.countAll().as('n')).where('status', '=', 'pending').executeTakeFirst();
          this.set({ site: domain }, Number(row?.n ?? 0));
        }
      },
    });
  }

  /** Requests served so far, per site (for the panel). */
  async requestCounts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const value of (await this.requests.get()).values) {
      const site = String(value.labels.site);
      counts.set(site, (counts.get(site) ?? 0) + value.value);
    }
    return counts;
  }

  /** Counts a request once its answer is finished. */
  observe(site: string, res: http.ServerResponse, started: bigint): void {
    res.once('finish', () => {
      this.requests.inc({ site, status: `${Math.floor(res.statusCode / 100)}xx` });
      this.duration.observe({ site }, Number(process.hrtime.bigint() - started) / 1e9);
    });
  }
}
