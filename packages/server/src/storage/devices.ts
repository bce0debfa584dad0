import { isAcceptableSigningKey, verifyDeviceCertificate, type SiteName } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { ApiError, conflict } from '../errors.js';
import type { Database } from './schema.js';
import { findUser, localAddressText } from './users.js';

export const MAX_DEVICES = 20;

export interface NewDeviceRecord {
  id: string;
  name: string;
  signKey: string;
  dhKey: string;
  cert: string;
  identityKey: string;
}

/**
 * Adds one of a user's devices, inside the caller's transaction, with the checks every device
 * gets (a browser, a CLI, the home vault): the account's identity key, a certificate from it, a
 * fresh id, and the device limit. The account's first device sets its identity key (and, when
 * given, the key backup). `makeRoom` runs just before the limit is checked: a new vault frees
 * the old vault's slot there.
 */
export async function addDevice(
  trx: Kysely<Database>,
  site: SiteName,
  username: string,
  device: NewDeviceRecord,
  now: number,
  options: { keyBackup?: unknown; backupRequired?: boolean; makeRoom?: () => Promise<void> } = {},
): Promise<void> {
  const user = (await findUser(trx, username))!;
  if (user.identity_key && user.identity_key !== device.identityKey) {
    throw conflict('identity_mismatch', 'this account already has another identity key: restore it from your key backup first');
  }
  if (!user.identity_key && options.backupRequired && !options.keyBackup) {
    throw new ApiError('backup_required', 'a new identity key needs its backup, so your other devices can restore it', { status: 400 });
  }
  if (!verifyDeviceCertificate(device.identityKey, localAddressText(site, username), device)) {
    throw new ApiError('bad_certificate', 'the device certificate does not verify under the identity key', { status: 400 });
  }
  if (!isAcceptableSigningKey(device.identityKey) || !isAcceptableSigningKey(device.signKey)) {
    throw new ApiError('bad_certificate', 'the identity key or the device signing key is not an acceptable Ed25519 key (small order or non-canonical)', { status: 400 });
  }
  if (await trx.selectFrom('devices').select('id').where('id', '=', device.id).executeTakeFirst()) throw conflict('device_exists', 'a device with this id already exists');
  await options.makeRoom?.();
  const count = await trx.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where('username', '=', username).executeTakeFirst();
  if (Number(count?.n ?? 0) >= MAX_DEVICES) throw conflict('too_many_devices', `an account may have at most ${MAX_DEVICES} devices; remove one first`);
  if (!user.identity_key) {
    await trx
      .updateTable('users')
      .set({ identity_key: device.identityKey, ...(options.keyBackup ? { key_backup: JSON.stringify(options.keyBackup) } : {}) })
      .where('username', '=', username)
      .execute();
  }
  await trx
    .insertInto('devices')
    .values({ id: device.id, username, name: device.name, sign_key: device.signKey, dh_key: device.dhKey, cert: device.cert, created_at: now })
    .execute();
}
