import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Whether a local user takes calls from (and places calls to) an address: everyone they follow,
 * and everyone on their "may call me" list. Each side's site checks its own user, so a call
 * needs both people to agree.
 */
export async function mayCall(db: Kysely<Database>, username: string, address: string): Promise<boolean> {
  const follows = await db.selectFrom('following').select('target').where('username', '=', username).where('target', '=', address).executeTakeFirst();
  if (follows) return true;
  const allowed = await db.selectFrom('call_allow').select('address').where('username', '=', username).where('address', '=', address).executeTakeFirst();
  return allowed !== undefined;
}
