import { createEnvelope, TYPES, type Address, type Envelope, type EnvelopeType, type MessageData } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import type { Context } from '../context.js';
import type { Database } from '../storage/schema.js';
import { localAddress } from '../storage/users.js';
import { enqueueEnvelope, enqueueEnvelopes } from './outbox.js';
import { remoteFollowers } from '../storage/follows.js';
import { addFanoutJob, FANOUT_INLINE, firstPerSite } from './fanout.js';

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

/** What a site keeps one copy of for everyone there, whatever order its envelopes come in. */
const SITE_WIDE: ReadonlySet<EnvelopeType> = new Set<EnvelopeType>([TYPES.postCreate, TYPES.postUpdate, TYPES.postDelete]);

/**
 * Queues one envelope per follower of a local user on another site, in the caller's transaction (a
 * post, an edit, a share...). A post, edit or deletion to more than FANOUT_INLINE followers queues one
 * follower per site here and the rest as a fan-out job, stepped after the commit
 * (outbox/fanout.ts; the caller wakes it with `ctx.fanout.wake()`): the post commits and answers
 * without waiting for a thousand signatures, and its first envelopes are on their way at once.
 * A site keeps one copy of a post and tells all its followers' pages at the first arrival, and
 * never lets an older version replace a newer one, so the order of the rest does not matter.
 * Followers on this same site get nothing queued: their feeds read this site's posts and shares
 * directly, so the caller only tells their open pages, after the commit (`ctx.live.feedChanged`),
 * instead of a signed round trip through the site's own inbox.
 */
export async function queueToFollowers<T extends EnvelopeType>(ctx: Context, trx: Kysely<Database>, username: string, type: T, data: MessageData[T]): Promise<void> {
  const remote = await remoteFollowers(trx, ctx.site, username);
  if (remote.length === 0) return;
  let now = remote;
  if (remote.length > FANOUT_INLINE && SITE_WIDE.has(type)) {
    now = firstPerSite(remote).first;
    await addFanoutJob(trx, { username, type, data, skip: now, now: ctx.siteNow() });
  }
  // One signer lookup and two statements per 200 followers, however many there are.
  const signer = await ctx.signerFor(username, trx);
  const from = localAddress(ctx.site, username);
  await enqueueEnvelopes(trx, now.map((to) => createEnvelope({ type, from, to, data }, signer)), ctx.siteNow());
}
