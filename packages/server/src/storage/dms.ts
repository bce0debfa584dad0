import type { DmCiphertext } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import { ApiError } from '../errors.js';
import type { Database } from './schema.js';
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
  await refuseReplayedDm(trx, dm.username, messageKey);
  await trx
    .insertInto('dm_messages')
    .values({ username: dm.username, envelope_id: dm.envelopeId, direction: dm.direction, peer: dm.peer, ciphertext: JSON.stringify(dm.message), created_at: dm.now, message_key: messageKey })
    .onConflict((oc) => oc.columns(['username', 'envelope_id']).doNothing())
    .execute();
  await enqueueForVault(trx, dm.username, { envelopeId: dm.envelopeId, direction: dm.direction, peer: dm.peer, message: dm.message, now: dm.now });
}

/** The unique index that keeps a sealed DM once per account (migration 005). */
export const DM_ONCE = { name: 'dm_messages_message_once', columns: ['dm_messages.username', 'dm_messages.message_key'] };

/** A sealed DM (by its ephemeral key) is stored once per account: the same message in another envelope is a replay. */
export async function refuseReplayedDm(trx: Kysely<Database>, username: string, messageKey: string): Promise<void> {
  const seen = await trx.selectFrom('dm_messages').select('envelope_id').where('username', '=', username).where('message_key', '=', messageKey).executeTakeFirst();
  if (seen) throw new ApiError('duplicate_message', `this sealed message was already received (in envelope ${seen.envelope_id})`, { status: 409 });
}
