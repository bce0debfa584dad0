import { sql } from 'kysely';
import type { Db } from '../storage/db.js';
import type { FriendLimits } from './limits.js';

/** What a relay allows a friend it has just been told to relay for, until its owner says otherwise. */
export const DEFAULT_FRIEND_LIMITS: FriendLimits = { perMinute: 600, bytesPerDay: 200 * 1024 * 1024 };

export interface RelayFriend extends FriendLimits {
  address: string;
  since: number;
}

/** Whether `owner` also relays for everyone they follow who follows them back. */
export async function relaysForMutuals(db: Db, owner: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('relay_mutuals').where('username', '=', owner).executeTakeFirst();
  return Number(row?.relay_mutuals ?? 0) === 1;
}

export async function setRelayForMutuals(db: Db, owner: string, on: boolean): Promise<void> {
  await db.updateTable('users').set({ relay_mutuals: on ? 1 : 0 }).where('username', '=', owner).execute();
}

/** The people `owner` follows who follow them back (addresses). */
export async function mutualFollows(db: Db, owner: string): Promise<string[]> {
  const rows = await db
    .selectFrom('following')
    .innerJoin('followers', (join) => join.onRef('followers.follower', '=', 'following.target').onRef('followers.username', '=', 'following.username'))
    .select('following.target as address')
    .where('following.username', '=', owner)
    .execute();
  return rows.map((r) => r.address);
}

/** The people `owner` relays for. */
export async function relayFriends(db: Db, owner: string): Promise<RelayFriend[]> {
  const rows = await db.selectFrom('relay_friends').selectAll().where('owner', '=', owner).orderBy('created_at').execute();
  return rows.map((r) => ({ address: r.address, perMinute: Number(r.per_minute), bytesPerDay: Number(r.bytes_per_day), since: Number(r.created_at) }));
}

export async function relayFriend(db: Db, owner: string, address: string): Promise<RelayFriend | undefined> {
  const r = await db.selectFrom('relay_friends').selectAll().where('owner', '=', owner).where('address', '=', address).executeTakeFirst();
  return r && { address: r.address, perMinute: Number(r.per_minute), bytesPerDay: Number(r.bytes_per_day), since: Number(r.created_at) };
}

/** Adds a friend, or changes their limits; returns the entry as stored. */
export async function putRelayFriend(db: Db, owner: string, address: string, limits: Partial<FriendLimits>, now: number): Promise<RelayFriend> {
  const current = await relayFriend(db, owner, address);
  const perMinute = limits.perMinute ?? current?.perMinute ?? DEFAULT_FRIEND_LIMITS.perMinute;
  const bytesPerDay = limits.bytesPerDay ?? current?.bytesPerDay ?? DEFAULT_FRIEND_LIMITS.bytesPerDay;
  await db
    .insertInto('relay_friends')
    .values({ owner, address, per_minute: perMinute, bytes_per_day: bytesPerDay, created_at: now })
    .onConflict((oc) => oc.columns(['owner', 'address']).doUpdateSet({ per_minute: perMinute, bytes_per_day: bytesPerDay }))
    .execute();
  return { address, perMinute, bytesPerDay, since: current?.since ?? now };
}

export async function removeRelayFriend(db: Db, owner: string, address: string): Promise<boolean> {
  const result = await db.deleteFrom('relay_friends').where('owner', '=', owner).where('address', '=', address).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The relays `username` trusts for their own traffic, in their order. */
export async function myRelays(db: Db, username: string): Promise<string[]> {
  const rows = await db.selectFrom('my_relays').select('address').where('username', '=', username).orderBy('position').execute();
  return rows.map((r) => r.address);
}

/** Every local user's relays, as (relay, user) pairs in each user's order: what the site advertises and tries. */
export async function allMyRelays(db: Db): Promise<Array<{ username: string; address: string }>> {
  return db.selectFrom('my_relays').select(['username', 'address']).orderBy('username').orderBy('position').execute();
}

export async function addMyRelay(db: Db, username: string, address: string, now: number): Promise<string[]> {
  const last = await db.selectFrom('my_relays').select((eb) => eb.fn.max('position').as('p')).where('username', '=', username).executeTakeFirst();
  await db
    .insertInto('my_relays')
    .values({ username, address, position: Number(last?.p ?? 0) + 1, created_at: now })
    .onConflict((oc) => oc.columns(['username', 'address']).doNothing())
    .execute();
  return myRelays(db, username);
}

export async function removeMyRelay(db: Db, username: string, address: string): Promise<boolean> {
  const result = await db.deleteFrom('my_relays').where('username', '=', username).where('address', '=', address).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export interface RelayCounts {
  envelopes: number;
  bytes: number;
  refused: number;
}

/** Adds counts to the day's row per (owner, friend). */
export async function addRelayStats(db: Db, entries: Array<{ owner: string; address: string; day: string } & RelayCounts>): Promise<void> {
  if (entries.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (const e of entries) {
      await trx
        .insertInto('relay_stats')
        .values({ owner: e.owner, address: e.address, day: e.day, envelopes: e.envelopes, bytes: e.bytes, refused: e.refused })
        .onConflict((oc) =>
          oc.columns(['owner', 'address', 'day']).doUpdateSet({
            envelopes: sql`relay_stats.envelopes + ${e.envelopes}`,
            bytes: sql`relay_stats.bytes + ${e.bytes}`,
            refused: sql`relay_stats.refused + ${e.refused}`,
          }),
        )
        .execute();
    }
  });
}

/** What `owner` relayed per friend: today and in all. */
export async function relayStats(db: Db, owner: string, today: string): Promise<Map<string, { today: RelayCounts; total: RelayCounts }>> {
  const rows = await db.selectFrom('relay_stats').selectAll().where('owner', '=', owner).execute();
  const out = new Map<string, { today: RelayCounts; total: RelayCounts }>();
  for (const r of rows) {
    const entry = out.get(r.address) ?? { today: { envelopes: 0, bytes: 0, refused: 0 }, total: { envelopes: 0, bytes: 0, refused: 0 } };
    for (const counts of r.day === today ? [entry.today, entry.total] : [entry.total]) {
      counts.envelopes += Number(r.envelopes);
      counts.bytes += Number(r.bytes);
      counts.refused += Number(r.refused);
    }
    out.set(r.address, entry);
  }
  return out;
}
