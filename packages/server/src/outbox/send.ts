import { createEnvelope, type Address, type Envelope, type EnvelopeType, type MessageData } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import type { Context } from '../context.js';
import type { Database } from '../storage/schema.js';
import { localAddress } from '../storage/users.js';
import { enqueueEnvelope } from './outbox.js';

/** Signs an envelope from a local user with their site key and queues it in the caller's transaction. */
export async function queueEnvelope<T extends EnvelopeType>(
  ctx: Context,
  trx: Kysely<Database>,
  fields: { type: T; from: string; to: Address; data: MessageData[T] },
): Promise<Envelope<T>> {
  const signer = await ctx.signerFor(fields.from, trx);
  const env = createEnvelope({ type: fields.type, from: localAddress(ctx.site, fields.from), to: fields.to, data: fields.data }, signer);
  await enqueueEnvelope(trx, env, ctx.siteNow());
  return env;
}
