import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/**
 * Answers the inbox's two per-envelope questions from memory: does this local user exist, and
 * has this user blocked that address. Users are never removed while a site runs, so a "yes" is
 * remembered and a "no" asked again (a user added by `hearth user add` from another process is
 * seen at once). Blocks and follows change through the site's API, which calls
 * `blocksChanged` / `followingChanged`. With several instances (docs/SCALING.md) a change made at
 * another is heard through the bus (`onChange` / `forget`), and, in case the bus is down, what
 * is remembered is read again after `maxAgeMs` anyway.
 */
export class LocalUserCache {
  private readonly known = new Set<string>();
  private readonly blocks = new Map<string, { at: number; set: Set<string> }>();
  /** followed address -> local usernames following it */
  private followed: { at: number; map: Map<string, string[]> } | undefined;

  constructor(private readonly db: Db) {}

  /** How long a remembered block list or follow map holds (Infinity: until a change here says otherwise). */
  maxAgeMs = Infinity;
  /** Told of each change made through this instance (to tell the others). */
  onChange: ((change: { blocks?: string; following?: true }) => void) | undefined;

  /** A change made elsewhere: forget what it touched. */
  forget(change: { blocks?: string; following?: true }): void {
    if (change.blocks) this.blocks.delete(change.blocks);
    if (change.following) this.followed = undefined;
  }

  private fresh(entry: { at: number } | undefined): boolean {
    return entry !== undefined && (this.maxAgeMs === Infinity || performance.now() - entry.at < this.maxAgeMs);
  }

  async exists(username: string): Promise<boolean> {
    if (this.known.has(username)) return true;
    const row = await this.db.selectFrom('users').select('username').where('username', '=', username).executeTakeFirst();
    if (row) this.known.add(username);
    return row !== undefined;
  }

  async hasBlocked(username: string, address: string): Promise<boolean> {
    let entry = this.blocks.get(username);
    if (!this.fresh(entry)) {
      const rows = await this.db.selectFrom('blocks').select('address').where('username', '=', username).execute();
      entry = { at: performance.now(), set: new Set(rows.map((r) => r.address)) };
      this.blocks.set(username, entry);
    }
    return entry!.set.has(address);
  }

  blocksChanged(username: string): void {
    this.blocks.delete(username);
    this.onChange?.({ blocks: username });
  }

  /** Whether anyone here follows this address (pushed posts are kept only then). */
  async isFollowed(address: string, db: Db = this.db): Promise<boolean> {
    return (await this.followersOf(address, db)).length > 0;
  }

  /** The local users who follow this address. */
  async followersOf(address: string, db: Db = this.db): Promise<string[]> {
    if (!this.fresh(this.followed)) {
      const rows = await db.selectFrom('following').select(['target', 'username']).execute();
      const map = new Map<string, string[]>();
      for (const { target, username } of rows) map.set(target, [...(map.get(target) ?? []), username]);
      this.followed = { at: performance.now(), map };
    }
    return this.followed!.map.get(address) ?? [];
  }

  /** Call after any change to the following table. */
  followingChanged(): void {
    this.followed = undefined;
    this.onChange?.({ following: true });
  }
}
