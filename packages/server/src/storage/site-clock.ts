import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

const KEY = 'site_clock_ms';

/**
 * The site clock: milliseconds that only move forward at the pace of a monotonic clock, and go
 * on from where they stopped at the last run. Retry schedules, give-up limits and how long
 * envelope ids are remembered are measured on it, so a wall clock that jumps (a bad NTP step,
 * a dead RTC battery, an operator's typo) can neither collapse nor stretch them. It starts at
 * the wall clock the first time, so values written before it existed stay comparable; time the
 * site is down does not count (ids are then kept longer, never shorter).
 * Protocol times (an envelope's ts, a post's createdAt) stay on the wall clock.
 */
export class SiteClock {
  private readonly startedAt = performance.now();

  private constructor(private readonly base: number) {}

  static async load(db: Kysely<Database>, wallNow: number): Promise<SiteClock> {
    const row = await db.selectFrom('site_meta').select('value').where('key', '=', KEY).executeTakeFirst();
    const stored = row ? Number(row.value) : NaN;
    return new SiteClock(Number.isFinite(stored) ? stored : wallNow);
  }

  now(): number {
    return Math.floor(this.base + (performance.now() - this.startedAt));
  }

  async save(db: Kysely<Database>): Promise<void> {
    const value = String(this.now());
    await db.insertInto('site_meta').values({ key: KEY, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
  }
}
