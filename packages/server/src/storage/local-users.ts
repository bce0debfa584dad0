import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/**
 * Answers the inbox's two per-envelope questions from memory: does this local user exist, and
 * has this user blocked that address. Users are never removed while a site runs, so a "yes" is
 * remembered and a "no" asked again (a user added by `hearth user add` from another process is
 * seen at once). Blocks and follows change only through this process's API, which calls
 * `blocksChanged` / `followingChanged`.
 */
export class LocalUserCache {
  private readonly known = new Set<string>();
  private readonly blocks = new Map<string, Set<string>>();
  /** followed address -> local usernames following it */
  private followed: Map<string, string[]> | undefined;

  constructor(private readonly db: Db) {}

  async exists(username: string): Promise<boolean> {
    if (this.known.has(username)) return true;
    const row = await this.db.selectFrom('users').select('username').where('username', '=', username).executeTakeFirst();
    if (row) this.known.add(username);
    return row !== undefined;
  }

  async hasBlocked(username: string, address: string): Promise<boolean> {
    let set = this.blocks.get(username);
    if (!set) {
      const rows = await this.db.selectFrom('blocks').select('address').where('username', '=', username).execute();
      set = new Set(rows.map((r) => r.address));
      this.blocks.set(username, set);
    }
    return set.has(address);
  }

  blocksChanged(username: string): void {
    this.blocks.delete(username);
  }

  /** Whether anyone here follows this address (pushed posts are kept only then). */
  async isFollowed(address: string, db: Db = this.db): Promise<boolean> {
    return (await this.followersOf(address, db)).length > 0;
  }

  /** The local users who follow this address. */
  async followersOf(address: string, db: Db = this.db): Promise<string[]> {
    if (!this.followed) {
      const rows = await db.selectFrom('following').select(['target', 'username']).execute();
      const map = new Map<string, string[]>();
      for (const { target, username } of rows) map.set(target, [...(map.get(target) ?? []), username]);
      this.followed = map;
    }
    return this.followed.get(address) ?? [];
  }

  /** Call after any change to the following table. */
  followingChanged(): void {
    this.followed = undefined;
  }
}
