import { createEnvelope, formatAddress, formatSite, newEnvelopeId, parseAddress, sameSite, type Address, type Envelope, type EnvelopeType, type MessageData, type Signer, type SiteName } from '@hearth/protocol';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../storage/schema.js';
import { localAddress } from '../storage/users.js';
import { enqueueEnvelopes } from './outbox.js';

/** Above this many followers on other sites, a post's fan-out is split (see firstPerSite). */
export const FANOUT_INLINE = 200;

/**
 * Followers whose envelopes are committed together in one step: a step is one transaction (and
 * one fsync), so large steps keep the delivery rate. Its signatures are made before, in chunks.
 */
export const FANOUT_STEP = 1000;

/** How long a fan-out's first step waits for the post's first envelopes to be acked, at most. */
export const HEADS_WAIT_MS = 250;

/** Signatures made between two turns of the event loop. */
const SIGN_CHUNK = 100;

/**
 * Splits a fan-out: one follower per site first, the rest after. A site stores one copy of a post
 * for everyone there and tells all their open pages at its first arrival, so these few envelopes,
 * queued with the post itself, put it in every follower's feed; the others (each follower still
 * gets their own envelope) follow in steps.
 */
export function firstPerSite(followers: Address[]): { first: Address[]; rest: Address[] } {
  const seen = new Set<string>();
  const first: Address[] = [];
  const rest: Address[] = [];
  for (const follower of followers) {
    const site = formatSite(follower);
    if (seen.has(site)) rest.push(follower);
    else {
      seen.add(site);
      first.push(follower);
    }
  }
  return { first, rest };
}

/** Puts the rest of a fan-out in the caller's transaction: FanOut queues it after the commit. */
export async function addFanoutJob<T extends EnvelopeType>(trx: Kysely<Database>, job: { username: string; type: T; data: MessageData[T]; skip: Address[]; now: number }): Promise<void> {
  await trx
    .insertInto('fanout_jobs')
    .values({ id: newEnvelopeId(), username: job.username, type: job.type, data: JSON.stringify(job.data), skip: JSON.stringify(job.skip.map(formatAddress)), after: '', created_at: job.now })
    .execute();
}

export interface FanOutDeps {
  db: Kysely<Database>;
  site: SiteName;
  signerFor: (username: string, executor: Kysely<Database>) => Promise<Signer>;
  clock: () => number;
  /** New envelopes are in the outbox: send them. */
  queued: () => void;
  /** Resolves when nothing is in flight in the outbox, or after `maxMs` (at once when it is busier than `busyAbove`). */
  quiet: (maxMs: number, busyAbove: number) => Promise<void>;
  log: Logger;
}

/**
 * Works through the fan-out jobs, oldest first. Each step: the job's next FANOUT_STEP followers
 * (in address order, after the last one stepped past), one signed envelope each (but not for
 * those in `skip`), committed to the outbox in one transaction with the job's new position, or its
 * end. A crash loses and repeats nothing: the next start resumes after the last commit.
 */
export class FanOut {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly deps: FanOutDeps) {}

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.work()
      .catch((error: unknown) => this.deps.log.error({ err: error }, 'fan-out failed; it resumes at the next wake or start'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  stop(): void {
    this.stopped = true;
  }

  /** Resolves when the step in progress (if any) has committed. */
  async settled(): Promise<void> {
    await this.running;
  }

  private async work(): Promise<void> {
    while (!this.stopped && (await this.step())) {
      this.deps.queued();
      // Between steps the site answers requests and the outbox sends what is queued.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * One step of the oldest job; false when there is none. The signatures are made outside any
   * transaction, a hundred at a time with the event loop free in between (the site goes on
   * answering and sending: the first envelope per site left with the post and should not wait
   * behind these); then one short transaction moves the job on and queues them, provided nobody
   * moved it meanwhile (another instance, on PostgreSQL): then this step's envelopes are dropped.
   */
  private async step(): Promise<boolean> {
    const { db } = this.deps;
    const job = await db.selectFrom('fanout_jobs').selectAll().orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
    if (!job) return false;
    // A job's first step waits (a little) for the envelopes that left with the post to be acked:
    // they show it on every follower's page, and its signatures would compete with them for the CPU.
    if (job.after === '') await this.deps.quiet(HEADS_WAIT_MS, FANOUT_INLINE);
    const rows = await db.selectFrom('followers').select('follower').where('username', '=', job.username).where('follower', '>', job.after).orderBy('follower').limit(FANOUT_STEP).execute();
    const skip = new Set(JSON.parse(job.skip) as string[]);
    const to = rows.map((r) => parseAddress(r.follower)).filter((address) => !skip.has(formatAddress(address)) && !sameSite(address, this.deps.site));
    const envelopes: Envelope[] = [];
    if (to.length > 0) {
      const signer = await this.deps.signerFor(job.username, db);
      const from = localAddress(this.deps.site, job.username);
      const data = JSON.parse(job.data) as MessageData[EnvelopeType];
      for (let i = 0; i < to.length; i += SIGN_CHUNK) {
        for (const address of to.slice(i, i + SIGN_CHUNK)) envelopes.push(createEnvelope({ type: job.type as EnvelopeType, from, to: address, data }, signer));
        await new Promise((resolve) => setImmediate(resolve));
        if (this.stopped) return false; // nothing committed: the next start does this step again
      }
    }
    await db.transaction().execute(async (trx) => {
      const last = rows.length < FANOUT_STEP;
      const moved = last
        ? Number((await trx.deleteFrom('fanout_jobs').where('id', '=', job.id).where('after', '=', job.after).executeTakeFirst()).numDeletedRows)
        : Number((await trx.updateTable('fanout_jobs').set({ after: rows[rows.length - 1]!.follower }).where('id', '=', job.id).where('after', '=', job.after).executeTakeFirst()).numUpdatedRows);
      if (moved === 1 && envelopes.length > 0) await enqueueEnvelopes(trx, envelopes, this.deps.clock());
    });
    return true;
  }
}
