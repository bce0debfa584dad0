import crypto from 'node:crypto';
import { forDevice, type DmCiphertext } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { sha256Hex } from '../crypto/node-signing.js';
import { compiledOnce } from './compiled.js';
import { perTransaction } from './per-transaction.js';
import type { Database } from './schema.js';

/** A pairing code is good for 15 minutes and one pairing. */
export const PAIRING_CODE_TTL_MS = 15 * 60 * 1000;

// Crockford's base32: no I, L, O or U, so a code read aloud or typed from a screen survives.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 20 characters of base32 (100 random bits), shown in four groups: ABCDE-FGHJK-MNPQR-STVWX. */
export function newPairingCode(): string {
  const bytes = crypto.randomBytes(20);
  const chars = Array.from(bytes, (b) => ALPHABET[b & 31]);
  return [0, 5, 10, 15].map((i) => chars.slice(i, i + 5).join('')).join('-');
}

/** Accepts the code however it was typed: any case, with or without dashes and spaces. */
export function normalizePairingCode(text: string): string {
  const plain = text.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return plain.length === 20 ? [0, 5, 10, 15].map((i) => plain.slice(i, i + 5)).join('-') : plain;
}

function codeHash(code: string): string {
  return sha256Hex(`hearth-vault-pairing:${normalizePairingCode(code)}`);
}

/** A new code for the user's vault; any earlier unused code stops working. */
export async function issuePairingCode(db: Kysely<Database>, username: string, now: number): Promise<{ code: string; expiresAt: number }> {
  const code = newPairingCode();
  const expiresAt = now + PAIRING_CODE_TTL_MS;
  await db
    .insertInto('vault_pairing_codes')
    .values({ username, code_hash: codeHash(code), expires_at: expiresAt })
    .onConflict((oc) => oc.column('username').doUpdateSet({ code_hash: codeHash(code), expires_at: expiresAt }))
    .execute();
  return { code, expiresAt };
}

/** Whose code this is, if it is valid now; does not use it up. */
export async function pairingCodeOwner(db: Kysely<Database>, code: string, now: number): Promise<string | undefined> {
  const row = await db.selectFrom('vault_pairing_codes').select(['username', 'expires_at']).where('code_hash', '=', codeHash(code)).executeTakeFirst();
  return row && Number(row.expires_at) > now ? row.username : undefined;
}

/** Uses the code up (inside the pairing transaction, so a failed pairing keeps it). */
export async function consumePairingCode(trx: Kysely<Database>, code: string, now: number): Promise<string | undefined> {
  const row = await trx.deleteFrom('vault_pairing_codes').where('code_hash', '=', codeHash(code)).returning(['username', 'expires_at']).executeTakeFirst();
  return row && Number(row.expires_at) > now ? row.username : undefined;
}

export async function vaultOf(db: Kysely<Database>, username: string) {
  return db.selectFrom('vaults').selectAll().where('username', '=', username).executeTakeFirst();
}

export async function vaultByDevice(db: Kysely<Database>, deviceId: string) {
  return db
    .selectFrom('vaults')
    .innerJoin('devices', 'devices.id', 'vaults.device_id')
    .select(['vaults.username', 'vaults.device_id', 'devices.sign_key', 'devices.username as device_owner'])
    .where('vaults.device_id', '=', deviceId)
    .executeTakeFirst();
}

/** Removes the user's vault: its device, its queue and the vault record. */
export async function removeVault(trx: Kysely<Database>, username: string): Promise<void> {
  const vault = await vaultOf(trx, username);
  if (!vault) return;
  await trx.deleteFrom('vault_queue').where('username', '=', username).execute();
  await trx.deleteFrom('devices').where('id', '=', vault.device_id).where('username', '=', username).execute();
  await trx.deleteFrom('vaults').where('username', '=', username).execute();
}

/**
 * Queues a DM for the user's vault, inside the transaction that stores the DM. Only the vault's
 * own wrapped key is kept with the body, and only if the sender encrypted to the vault at all.
 * Returns whether anything was queued.
 */
export async function enqueueForVault(
  trx: Kysely<Database>,
  username: string,
  dm: { envelopeId: string; direction: 'in' | 'out'; peer: string; message: DmCiphertext; now: number },
): Promise<boolean> {
  const vault = await pairedVault(trx, { username });
  if (!vault) return false;
  const copy = forDevice(dm.message, vault.device_id);
  if (!copy) return false;
  const result = await queueForVault(trx, { username, envelopeId: dm.envelopeId, direction: dm.direction, peer: dm.peer, ciphertext: JSON.stringify(copy), now: dm.now });
  return Number(result.numAffectedRows ?? 0) > 0;
}

// Both run for every DM a site stores, sent or received.
const selectPairedVault = compiledOnce((db, v: { username: string }) => db.selectFrom('vaults').select('device_id').where('username', '=', v.username));
const pairedVault = perTransaction((v: { username: string }) => v.username, async (db, v: { username: string }) => (await selectPairedVault(db, v)).rows[0]);
const queueForVault = compiledOnce((db, v: { username: string; envelopeId: string; direction: 'in' | 'out'; peer: string; ciphertext: string; now: number }) =>
  db
    .insertInto('vault_queue')
    .values({ username: v.username, envelope_id: v.envelopeId, direction: v.direction, peer: v.peer, ciphertext: v.ciphertext, created_at: v.now })
    .onConflict((oc) => oc.columns(['username', 'envelope_id']).doNothing()),
);

export async function queuedForVault(db: Kysely<Database>, username: string, after: number, limit: number) {
  return db.selectFrom('vault_queue').selectAll().where('username', '=', username).where('seq', '>', after).orderBy('seq').limit(limit).execute();
}

export async function countQueued(db: Kysely<Database>, username: string): Promise<number> {
  const row = await db.selectFrom('vault_queue').select((eb) => eb.fn.countAll<number>().as('n')).where('username', '=', username).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Deletes what the vault acked; only the user's own rows, whatever seqs it names. */
export async function deleteAcked(db: Kysely<Database>, username: string, seqs: number[]): Promise<void> {
  if (seqs.length === 0) return;
  // One statement for an ack (a vault acks a chunk of up to a quarter of its window at a time).
  await db.deleteFrom('vault_queue').where('username', '=', username).where('seq', 'in', seqs).execute();
}
