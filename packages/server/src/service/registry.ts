import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import type { SiteQuotas } from '../quotas.js';
import { keepAlive } from '../storage/db.js';

export type SiteStatus = 'active' | 'suspended' | 'deleted';

export interface ServiceSite {
  /** The site's domain in ASCII (punycode), the registry's key and the name of its folder. */
  domain: string;
  /** The Unicode form, when it differs. */
  unicode: string | null;
  status: SiteStatus;
  createdAt: number;
  suspendedAt: number | null;
  /** Set once the site has been opened: it has background work (outbox, links) to resume at the next start. */
  started: boolean;
  /** Whether the running service has the site open now (its database in use). */
  open: boolean;
  /** The vendor's limits for this site (absent: none). */
  quotas: SiteQuotas;
}

/** A registry row as both stores keep it. */
export interface Row {
  domain: string;
  unicode: string | null;
  status: SiteStatus;
  created_at: number;
  suspended_at: number | null;
  started: number;
  open: number;
  quota_storage_bytes: number | null;
  quota_posts_per_hour: number | null;
  quota_relay_bytes_per_day: number | null;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS sites (
    domain TEXT PRIMARY KEY,
    unicode TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'deleted')),
    created_at INTEGER NOT NULL,
    -- when it was suspended or deleted
    suspended_at INTEGER,
    started INTEGER NOT NULL DEFAULT 0,
    open INTEGER NOT NULL DEFAULT 0,
    quota_storage_bytes INTEGER,
    quota_posts_per_hour INTEGER,
    quota_relay_bytes_per_day INTEGER
  ) WITHOUT ROWID;
`;

/**
 * The service's list of sites (issue 12): names and states only; each site's own data stays in its
 * own folder and database. Reads are synchronous (the service routes every request by it); writes
 * are awaited. Two stores: a small SQLite file beside the sites' folders (read per request, so a
 * site added or suspended from the command line takes effect at its next request), or, for a
 * service run as several instances (docs/SCALING.md), PostgreSQL, read into memory and refreshed
 * every second.
 */
export interface SiteRegistry {
  get(domain: string): ServiceSite | undefined;
  list(): ServiceSite[];
  /** Reads the store again (PostgreSQL: the snapshot the reads answer from). */
  refresh(): Promise<void>;
  /**
   * Reads the store again unless that was done a moment ago: for a request that names a site the
   * snapshot does not have (yet), or has as stopped, since a command may just have changed it.
   */
  refreshSoon(): Promise<void>;
  /** Adds a site; false when the domain is taken (the primary key decides, so two at once cannot both win). */
  add(domain: string, unicode: string | undefined, now: number): Promise<boolean>;
  setStatus(domain: string, status: SiteStatus, now: number): Promise<boolean>;
  markStarted(domain: string): Promise<void>;
  /** The running service says which sites it has open, so a restore waits until a site is closed everywhere. */
  setOpen(domain: string, open: boolean): Promise<void>;
  setQuotas(domain: string, quotas: SiteQuotas): Promise<boolean>;
  /** At the service's start: nothing is open yet here (a crash left the marks as they were). */
  markAllClosed(): Promise<void>;
  remove(domain: string): Promise<boolean>;
  /** The bytes each PostgreSQL schema takes, by schema name (sites in PostgreSQL); empty for the SQLite store. */
  schemaSizes(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export class SqliteSiteRegistry implements SiteRegistry {
  private readonly statements: Record<'get' | 'list' | 'add' | 'status' | 'started' | 'remove' | 'open' | 'allClosed' | 'quotas', SQLite.Statement>;

  private constructor(private readonly db: SQLite.Database) {
    this.statements = {
      get: keepAlive(db.prepare('SELECT * FROM sites WHERE domain = ?')),
      list: keepAlive(db.prepare('SELECT * FROM sites ORDER BY domain')),
      add: keepAlive(db.prepare('INSERT INTO sites (domain, unicode, status, created_at) VALUES (?, ?, ?, ?)')),
      status: keepAlive(db.prepare('UPDATE sites SET status = ?, suspended_at = ? WHERE domain = ?')),
      started: keepAlive(db.prepare('UPDATE sites SET started = 1 WHERE domain = ? AND started = 0')),
      remove: keepAlive(db.prepare('DELETE FROM sites WHERE domain = ?')),
      open: keepAlive(db.prepare('UPDATE sites SET open = ? WHERE domain = ?')),
      allClosed: keepAlive(db.prepare('UPDATE sites SET open = 0 WHERE open = 1')),
      quotas: keepAlive(db.prepare('UPDATE sites SET quota_storage_bytes = ?, quota_posts_per_hour = ?, quota_relay_bytes_per_day = ? WHERE domain = ?')),
    };
  }

  static open(file: string): SqliteSiteRegistry {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const db = keepAlive(new SQLite(file));
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    db.exec(SCHEMA);
    return new SqliteSiteRegistry(db);
  }

  async refresh(): Promise<void> {}

  async refreshSoon(): Promise<void> {}

  async schemaSizes(): Promise<Map<string, number>> {
    return new Map();
  }

  get(domain: string): ServiceSite | undefined {
    const row = this.statements.get.get(domain) as Row | undefined;
    return row && toSite(row);
  }

  list(): ServiceSite[] {
    return (this.statements.list.all() as Row[]).map(toSite);
  }

  async add(domain: string, unicode: string | undefined, now: number): Promise<boolean> {
    try {
      this.statements.add.run(domain, unicode ?? null, 'active', now);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false;
      throw error;
    }
  }

  async setStatus(domain: string, status: SiteStatus, now: number): Promise<boolean> {
    return this.statements.status.run(status, status === 'active' ? null : now, domain).changes > 0;
  }

  async markStarted(domain: string): Promise<void> {
    this.statements.started.run(domain);
  }

  async setOpen(domain: string, open: boolean): Promise<void> {
    this.statements.open.run(open ? 1 : 0, domain);
  }

  async setQuotas(domain: string, quotas: SiteQuotas): Promise<boolean> {
    return this.statements.quotas.run(quotas.storageBytes ?? null, quotas.postsPerHour ?? null, quotas.relayBytesPerDay ?? null, domain).changes > 0;
  }

  async markAllClosed(): Promise<void> {
    this.statements.allClosed.run();
  }

  async remove(domain: string): Promise<boolean> {
    return this.statements.remove.run(domain).changes > 0;
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** Every row, for moving the registry to PostgreSQL (hearth migrate-storage --service). */
  rows(): ServiceSite[] {
    return this.list();
  }
}

export function toSite(row: Row): ServiceSite {
  return { domain: row.domain, unicode: row.unicode, status: row.status, createdAt: Number(row.created_at), suspendedAt: row.suspended_at === null ? null : Number(row.suspended_at), started: Number(row.started) === 1,
    open: Number(row.open) > 0,
    quotas: {
      ...(row.quota_storage_bytes !== null ? { storageBytes: Number(row.quota_storage_bytes) } : {}),
      ...(row.quota_posts_per_hour !== null ? { postsPerHour: Number(row.quota_posts_per_hour) } : {}),
      ...(row.quota_relay_bytes_per_day !== null ? { relayBytesPerDay: Number(row.quota_relay_bytes_per_day) } : {}),
    },
  };
}
