import { formatAddress, generateSigningKeyPair, HearthError, isReservedUsername, type Address, type DeviceRecord, type SiteName } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { hashPassword } from '../auth/passwords.js';
import type { Database, UsersTable } from './schema.js';

type Q = Kysely<Database>;

export async function findUser(db: Q, username: string): Promise<UsersTable | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

export async function listUsernames(db: Q): Promise<string[]> {
  const rows = await db.selectFrom('users').select('username').orderBy('created_at').execute();
  return rows.map((r) => r.username);
}

export async function createUser(db: Q, fields: { username: string; password: string; displayName?: string }, now: number): Promise<UsersTable> {
  if (isReservedUsername(fields.username)) throw new HearthError('invalid_request', `the username "${fields.username}" is kept for the site itself: choose one that does not start with _`, { status: 400 });
  const siteKey = generateSigningKeyPair();
  const row: UsersTable = {
    username: fields.username,
    display_name: fields.displayName ?? fields.username,
    bio: '',
    avatar_url: '',
    password_hash: await hashPassword(fields.password),
    site_secret_key: siteKey.secretKey,
    site_public_key: siteKey.publicKey,
    identity_key: null,
    key_backup: null,
    created_at: now,
  };
  await db.insertInto('users').values(row).execute();
  return row;
}

export async function listDevices(db: Q, username: string): Promise<DeviceRecord[]> {
  const rows = await db.selectFrom('devices').select(['id', 'sign_key', 'dh_key', 'cert']).where('username', '=', username).orderBy('created_at').execute();
  return rows.map((r) => ({ id: r.id, signKey: r.sign_key, dhKey: r.dh_key, cert: r.cert }));
}

export function localAddress(site: SiteName, username: string): Address {
  return { username, host: site.host, port: site.port };
}

export function localAddressText(site: SiteName, username: string): string {
  return formatAddress(localAddress(site, username));
}

/** The public profile, exactly what other sites and devices fetch. */
export async function publicProfile(db: Q, site: SiteName, user: UsersTable) {
  const posts = await db.selectFrom('posts').select((eb) => eb.fn.countAll<number>().as('n')).where('author', '=', user.username).executeTakeFirst();
  return {
    username: user.username,
    address: localAddressText(site, user.username),
    displayName: user.display_name,
    bio: user.bio,
    avatarUrl: user.avatar_url,
    siteKey: user.site_public_key,
    ...(user.site_key_rotation ? { siteKeyRotation: JSON.parse(user.site_key_rotation) as unknown } : {}),
    identityKey: user.identity_key,
    devices: await listDevices(db, user.username),
    postCount: Number(posts?.n ?? 0),
    createdAt: new Date(Number(user.created_at)).toISOString(),
    ...(user.pinned_post ? { pinnedPost: user.pinned_post } : {}),
  };
}
