import { formatAddress, type Envelope } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/**
 * Writes an envelope to the outbox. Call it with the transaction of the action that caused
 * it (a post, a follow...), so the action and its delivery commit together: a crash can never
 * leave a post without its pushes, or a push without its post.
 */
export async function enqueueEnvelope(trx: Kysely<Database>, env: Envelope, now: number, options: { notBefore?: number } = {}): Promise<number> {
  const body = JSON.stringify(env);
  const inserted = await trx
    .insertInto('outbox')
    .values({
      envelope_id: env.id,
      sender: formatAddress(env.from),
      dest_host: env.to.host,
      dest_port: env.to.port,
      size: Buffer.byteLength(body),
      attempts: 0,
      next_attempt_at: options.notBefore ?? now,
      created_at: now,
      status: 'pending',
      last_error: null,
    })
    .returning('seq')
    .executeTakeFirstOrThrow();
  await trx.insertInto('outbox_bodies').values({ seq: Number(inserted.seq), body }).execute();
  return Number(inserted.seq);
}
