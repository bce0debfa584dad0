import type { DmCiphertext } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { ApiError } from '../errors.js';
import type { Database } from './schema.js';
import { compiledOnce } from './compiled.js';
import { enqueueForVault } from './vault.js';

/**
 * A direct message as this site keeps it, sent or received, in the caller's transaction: the
 * ciphertext for the user's devices (dm_messages), and the home vault's own copy in its queue
 * (vault_queue), both or neither. The backend cannot read either. A sealed message is kept once
 * per account: the same one again, in a new envelope, is a replay and is refused.
 */
export async function recordDm(
  trx: Kysely<Database>,
  dm: { username: string; envelopeId: string; direction: 'in' | 'out'; peer: string; message: DmCiphertext; now: number },
): Promise<void> {
  const messageKey = dm.message.ephemeralKey;
  // One statement in the usual case: the insert stores nothing when the account already has this
  // envelope or this sealed message, and only then do we ask which.
  const inserted = await insertDm(trx, { username: dm.username, envelopeId: dm.envelopeId, direction: dm.direction, peer: dm.peer, ciphertext: JSON.stringify(dm.message), now: dm.now, messageKey });
  if (Number(inserted.numAffectedRows ?? 0) === 0) await refuseReplayedDm(trx, dm.username, messageKey);
  await enqueueForVault(trx, dm.username, { envelopeId: dm.envelopeId, direction: dm.direction, peer: dm.peer, message: dm.message, now: dm.now });
}

const insertDm = compiledOnce((db, v: { username: string; envelopeId: string; direction: 'in' | 'out'; peer: string; ciphertext: string; now: number; messageKey: string }) =>
  db
    .insertInto('dm_messages')
    .values({ username: v.username, envelope_id: v.envelopeId, direction: v.direction, peer: v.peer, ciphertext: v.ciphertext, created_at: v.now, message_key: v.messageKey })
    .onConflict((oc) => oc.doNothing()),
);

const sealedBefore = compiledOnce((db, v: { username: string; messageKey: string }) => db.selectFrom('dm_messages').select('envelope_id').where('username', '=', v.username).where('message_key', '=', v.messageKey));

/** The unique index that keeps a sealed DM once per account (migration 005). */
export const DM_ONCE = { name: 'dm_messages_message_once', columns: ['dm_messages.username', 'dm_messages.message_key'] };

/** A sealed DM (by its ephemeral key) is stored once per account: the same message in another envelope is a replay. */
async function refuseReplayedDm(trx: Kysely<Database>, username: string, messageKey: string): Promise<void> {
  const seen = (await sealedBefore(trx, { username, messageKey })).rows[0];
  if (seen) throw new ApiError('duplicate_message', `this sealed message was already received (in envelope ${seen.envelope_id})`, { status: 409 });
}
