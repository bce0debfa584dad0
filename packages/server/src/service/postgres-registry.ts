import { sql, type Kysely } from 'kysely';
import type { SiteQuotas } from '../quotas.js';
import { openPostgres } from '../storage/db.js';
import { toSite, type Row, type ServiceSite, type SiteRegistry, type SiteStatus } from './registry.js';

/** Where a service's registry lives in its PostgreSQL database (the sites each have a schema of their own). */
export const REGISTRY_SCHEMA = 'hearth_service';
/** An instance says every few seconds which sites it has open; a mark older than this is from an instance that stopped. */
const OPEN_MARK_MS = 30_000;


/**
 * The registry of a hosting service run as several instances (docs/SCALING.md): one table of sites
 * in PostgreSQL that every instance and every `hearth service` command shares, read into memory
 * and refreshed every second, so routing a request costs no query. Which instances have a site
 * open is a table of its own (one row per instance and site, renewed while open), so a restore
 * waits until no instance has the site open.
 */
export class PostgresSiteRegistry implements SiteRegistry {
  private snapshot = new Map<string, ServiceSite>();
  private timer: NodeJS.Timeout | undefined;
  private readonly mine = new Set<string>();

  private constructor(
    private readonly db: Kysely<any>,
    private readonly instance: string,
  ) {}

  static async open(url: string, instance: string, options: { watch?: boolean } = {}): Promise<PostgresSiteRegistry> {
    const db = openPostgres({ url, schema: REGISTRY_SCHEMA, poolSize: 2 }) as Kysely<any>;
    await sql`create schema if not exists ${sql.id(REGISTRY_SCHEMA)}`.execute(db);
    await sql`create table if not exists sites (
      domain text primary key,
      unicode text,
      status text not null check (status in ('active', 'suspended', 'deleted')),
      created_at bigint not null,
      suspended_at bigint,
      started integer not null default 0,
      quota_storage_bytes bigint,
      quota_posts_per_hour bigint,
      quota_relay_bytes_per_day bigint
    )`.execute(db);
    await sql`create table if not exists site_open (domain text not null, instance text not null, seen_at bigint not null, primary key (domain, instance))`.execute(db);
    const registry = new PostgresSiteRegistry(db, instance);
    await registry.refresh();
    if (options.watch) {
      // The running service: the snapshot follows the other instances' and the commands' changes,
      // and this instance's open marks stay fresh.
      registry.timer = setInterval(() => void registry.tick().catch(() => undefined), 1_000);
      registry.timer.unref();
    }
    return registry;
  }

  private ticks = 0;
  private async tick(): Promise<void> {
    if (++this.ticks % 5 === 0 && this.mine.size > 0) {
      await this.db.updateTable('site_open').set({ seen_at: Date.now() }).where('instance', '=', this.instance).execute();
    }
    await this.refresh();
  }

  private refreshedAt = 0;
  private refreshing: Promise<void> | undefined;

  async refreshSoon(): Promise<void> {
    // At most one read per 250 ms however many requests ask (a flood of unknown hosts costs little).
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.refreshedAt < 250) return;
    this.refreshing = this.refresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  async refresh(): Promise<void> {
    this.refreshedAt = Date.now();
    const rows = (await sql<Row>`select s.*, (select count(*) from site_open o where o.domain = s.domain and o.seen_at > ${Date.now() - OPEN_MARK_MS}) as open from sites s order by s.domain`.execute(this.db)).rows;
    this.snapshot = new Map(rows.map((row) => [row.domain, toSite(row)]));
  }

  get(domain: string): ServiceSite | undefined {
    return this.snapshot.get(domain);
  }

  list(): ServiceSite[] {
    return [...this.snapshot.values()];
  }

  async add(domain: string, unicode: string | undefined, now: number): Promise<boolean> {
    const result = await this.db.insertInto('sites').values({ domain, unicode: unicode ?? null, status: 'active', created_at: now }).onConflict((oc) => oc.column('domain').doNothing()).executeTakeFirst();
    await this.refresh();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async setStatus(domain: string, status: SiteStatus, now: number): Promise<boolean> {
    const result = await this.db.updateTable('sites').set({ status, suspended_at: status === 'active' ? null : now }).where('domain', '=', domain).executeTakeFirst();
    await this.refresh();
    return Number(result.numUpdatedRows) > 0;
  }

  async markStarted(domain: string): Promise<void> {
    await this.db.updateTable('sites').set({ started: 1 }).where('domain', '=', domain).where('started', '=', 0).execute();
  }

  async setOpen(domain: string, open: boolean): Promise<void> {
    if (open) {
      this.mine.add(domain);
      const at = Date.now();
      await this.db.insertInto('site_open').values({ domain, instance: this.instance, seen_at: at }).onConflict((oc) => oc.columns(['domain', 'instance']).doUpdateSet({ seen_at: at })).execute();
    } else {
      this.mine.delete(domain);
      await this.db.deleteFrom('site_open').where('domain', '=', domain).where('instance', '=', this.instance).execute();
    }
  }

  async setQuotas(domain: string, quotas: SiteQuotas): Promise<boolean> {
    const result = await this.db
      .updateTable('sites')
      .set({ quota_storage_bytes: quotas.storageBytes ?? null, quota_posts_per_hour: quotas.postsPerHour ?? null, quota_relay_bytes_per_day: quotas.relayBytesPerDay ?? null })
      .where('domain', '=', domain)
      .executeTakeFirst();
    await this.refresh();
    return Number(result.numUpdatedRows) > 0;
  }

  async markAllClosed(): Promise<void> {
    // Only this instance's marks: the others may have sites open. (A new process is a new instance,
    // so this clears nothing; marks of a stopped one expire by themselves.)
    this.mine.clear();
    await this.db.deleteFrom('site_open').where('instance', '=', this.instance).execute();
  }

  async remove(domain: string): Promise<boolean> {
    const result = await this.db.deleteFrom('sites').where('domain', '=', domain).executeTakeFirst();
    await this.db.deleteFrom('site_open').where('domain', '=', domain).execute();
    await this.refresh();
    return Number(result.numDeletedRows) > 0;
  }

  async schemaSizes(): Promise<Map<string, number>> {
    const { rows } = await sql<{ schema: string; bytes: number }>`select n.nspname as schema, sum(pg_total_relation_size(c.oid)) as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'm') group by n.nspname`.execute(this.db);
    return new Map(rows.map((r) => [r.schema, Number(r.bytes)]));
  }

  /** Copies sites in (the registry of a service moving to PostgreSQL); those already here are left as they are. */
  async importSites(sites: ServiceSite[]): Promise<void> {
    for (const site of sites) {
      await this.db
        .insertInto('sites')
        .values({
          domain: site.domain,
          unicode: site.unicode,
          status: site.status,
          created_at: site.createdAt,
          suspended_at: site.suspendedAt,
          started: site.started ? 1 : 0,
          quota_storage_bytes: site.quotas.storageBytes ?? null,
          quota_posts_per_hour: site.quotas.postsPerHour ?? null,
          quota_relay_bytes_per_day: site.quotas.relayBytesPerDay ?? null,
        })
        .onConflict((oc) => oc.column('domain').doNothing())
        .execute();
    }
    await this.refresh();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.db.destroy();
  }
}
