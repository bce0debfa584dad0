import { createEnvelope, parseAddress, type Address, type Envelope, type EnvelopeType, type MessageData } from '@hearth/protocol';
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

/** Queues one envelope per follower of a local user, in the caller's transaction (a post, an edit, a share...). */
export async function queueToFollowers<T extends EnvelopeType>(ctx: Context, trx: Kysely<Database>, username: string, type: T, data: MessageData[T]): Promise<void> {
  const followers = await trx.selectFrom('followers').select('follower').where('username', '=', username).execute();
  for (const { follower } of followers) await queueEnvelope(ctx, trx, { type, from: username, to: parseAddress(follower), data });
}
