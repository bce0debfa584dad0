import { parseAddress, sameSite, type Address, type SiteName } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * A local user's followers on other sites: where a post, an edit or a share of theirs is sent
 * (followers on this same site read it here, and get no envelope).
 */
export async function remoteFollowers(db: Kysely<Database>, site: SiteName, username: string): Promise<Address[]> {
  const rows = await db.selectFrom('followers').select('follower').where('username', '=', username).execute();
  return rows.map(({ follower }) => parseAddress(follower)).filter((to) => !sameSite(to, site));
}

/** Every site this one follows someone on or is followed from: the sites it keeps links to. */
export async function linkedSites(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('following').select('target').union(db.selectFrom('followers').select('follower as target')).execute();
  return rows.map((r) => r.target);
}
