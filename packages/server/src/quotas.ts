import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import type { Database } from './storage/schema.js';

/**
 * Limits a hosting vendor sets on one site (issue 12); a site of its own has none. Checked before
 * anything is stored, so a refusal loses nothing: the person is told which limit, and when (or
 * whether) they can try again.
 */
export interface SiteQuotas {
  /** The site's database and media together, in bytes. */
  storageBytes?: number;
  /** Posts the whole site may publish in any hour. */
  postsPerHour?: number;
  /** Bytes the site's people may relay for friends in a UTC day, all friends together. */
  relayBytesPerDay?: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const SIZE_CACHE_MS = 10_000;

/** The bytes a site's folder holds that count against its storage (database, write-ahead log, media). */
export function siteStorageBytes(dataDir: string): number {
  const size = (file: string) => {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  };
  let total = size(path.join(dataDir, 'hearth.db')) + size(path.join(dataDir, 'hearth.db-wal'));
  const media = path.join(dataDir, 'media');
  if (fs.existsSync(media)) for (const file of fs.readdirSync(media)) total += size(path.join(media, file));
  return total;
}

export class QuotaGuard {
  private sized: { at: number; bytes: number } | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
    /** A site in PostgreSQL: the bytes its schema holds (its folder then holds only media). */
    private readonly databaseBytes?: () => Promise<number>,
  ) {}

  /** Set by the hosting service, and updated when the vendor changes them. */
  quotas: SiteQuotas = {};

  /** Before something is stored: refuses once the site holds as much as it may. */
  async checkStorage(adding = 0): Promise<void> {
    const limit = this.quotas.storageBytes;
    if (limit === undefined) return;
    if (!this.sized || this.now() - this.sized.at > SIZE_CACHE_MS) {
      this.sized = { at: this.now(), bytes: siteStorageBytes(this.dataDir) + (this.databaseBytes ? await this.databaseBytes() : 0) };
    }
    if (this.sized.bytes + adding > limit) {
      throw new HearthError('storage_quota_exceeded', `this site is full: it holds ${mb(this.sized.bytes)} of the ${mb(limit)} its host allows. Delete some images or posts, or ask your host for more room; nothing was saved`, { status: 507 });
    }
  }

  private relayed: { day: string; bytes: number } | undefined;

  /**
   * Before relaying `bytes` for a friend: 0 when the site's daily relay volume allows it (and it is
   * counted), else the ms until the next UTC day. Today's total starts from what the site's
   * relay counts already hold, so a restart does not reset it.
   */
  async allowRelay(bytes: number): Promise<number> {
    const limit = this.quotas.relayBytesPerDay;
    if (limit === undefined) return 0;
    const day = new Date(this.now()).toISOString().slice(0, 10);
    if (this.relayed?.day !== day) {
      const row = await this.db.selectFrom('relay_stats').select((eb) => eb.fn.sum<number>('bytes').as('bytes')).where('day', '=', day).executeTakeFirst();
      this.relayed = { day, bytes: Number(row?.bytes ?? 0) };
    }
    return this.spendRelay(bytes) ? 0 : DAY_MS - (this.now() % DAY_MS);
  }

  /** The same for bytes already flowing (a vault tunnel): false once the day's volume is spent. */
  spendRelay(bytes: number): boolean {
    const limit = this.quotas.relayBytesPerDay;
    if (limit === undefined || !this.relayed) return true;
    if (this.relayed.bytes + bytes > limit) return false;
    this.relayed.bytes += bytes;
    return true;
  }

  /** Before a post: refuses past the site's posts per hour, and says when the next one may go. */
  async checkPostRate(): Promise<void> {
    const limit = this.quotas.postsPerHour;
    if (limit === undefined) return;
    const since = this.now() - HOUR_MS;
    const rows = await this.db.selectFrom('posts').select('created_at').where('created_at', '>', since).orderBy('created_at', 'desc').limit(limit).execute();
    if (rows.length < limit) return;
    const waitMs = Math.max(1_000, Number(rows[rows.length - 1]!.created_at) + HOUR_MS - this.now());
    const error = new HearthError('quota_exceeded', `this site may publish ${limit} post${limit === 1 ? '' : 's'} an hour (its host's limit); the next one can go in ${Math.ceil(waitMs / 60_000)} min. Nothing was posted`, { status: 429, retryable: true });
    throw Object.assign(error, { retryAfterMs: waitMs });
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

