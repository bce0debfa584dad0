import { CLOCK_CODES, custodyRecheckDelay, formatSite, nextRetryDelay, sameSite, type SiteName, type RetryPolicy, DEFAULT_RETRY_POLICY } from '@hearth/protocol';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import type { OutboxTable } from '../storage/schema.js';
import { addNotification } from '../storage/notifications.js';
import type { Inbox } from '../federation/inbox.js';
import type { LinkManager } from '../federation/link-manager.js';
import type { AckResult } from '../federation/link.js';
import type { HttpClient } from '../net/http-client.js';
import { failure, postEnvelope } from './post.js';
import type { RelayRouter } from '../relay/router.js';

/**
 * A row as the cycle reads it: without its body (`size` is the body's length), which is loaded
 * only when the link has room for it, so a backlog costs ids in memory, not envelopes.
 */
type Row = Pick<OutboxTable, 'envelope_id' | 'sender' | 'dest_host' | 'dest_port' | 'attempts' | 'created_at' | 'last_error'> & { seq: number; size: number; body?: string };

/** Rows in flight to one site at a time: a stalled site cannot take every delivery slot. */
const MAX_IN_FLIGHT_PER_SITE = 2000;
/** POSTs in flight to one site at a time, when it has no link. */
const POSTS_PER_SITE = 8;
/** Rows one delivery cycle reads. */
const ROWS_PER_CYCLE = 1000;
/**
 * How long a row taken for delivery stays claimed if its outcome is never written. A claim is a
 * lease: it also moves the row's next_attempt_at to its end, so the rows in flight leave the
 * range of the due index that every cycle reads. Each cycle had walked past all of them (up to
 * 4,000), reading each row to see its claim: a millisecond per cycle while a post went out.
 */
const CLAIM_MS = 10 * 60_000;
/** The shortest time between two delivery cycles (see wake()). */
const MIN_CYCLE_GAP_MS = 10;
/** Envelopes loaded at once for one link. */
const CHUNK = 64;

type Outcome = { row: Row; ack: AckResult };

export interface OutboxWorkerDeps {
  db: Db;
  site: SiteName;
  links: LinkManager;
  inbox: Inbox;
  http: HttpClient;
  origin: (site: SiteName) => string;
  log: Logger;
  /** The wall clock: for notifications people read. */
  now: () => number;
  /** The site clock (storage/site-clock.ts): every schedule and age here, so clock jumps change none of them. */
  clock: () => number;
  random?: () => number;
  policy?: RetryPolicy;
  /**
   * Signs an envelope again with a fresh `ts` from the sender's clock now (PROTOCOL.md §5
   * "Delivery"): used before resending one that a receiver refused because the clocks disagreed,
   * so it goes through as soon as they agree. Returns the new JSON text.
   */
  restamp?: (body: string) => Promise<string>;
  /** Told the ids of envelopes whose delivery was just recorded (after the commit). Must be cheap. */
  onDelivered?: (envelopeIds: string[]) => void;
  /** The friends relay: the way to a site whose direct path fails (PROTOCOL.md §9 "Path choice"). */
  router?: RelayRouter;
  /**
   * This instance's id when several instances may share the outbox (PostgreSQL): rows are then
   * claimed with FOR UPDATE SKIP LOCKED, each claim names its instance, and the claims of an
   * instance that stopped beating are taken over. Undefined: this process is the only one.
   */
  instance?: string;
}

/**
 * A claim given up (at start, or an instance that stopped): the row is due again from when it was
 * claimed, which is when it was due at the latest, so it keeps its place among the rows due.
 */
const unclaimed = { claimed_until: null, claimed_by: null, next_attempt_at: sql<number>`claimed_until - ${sql.lit(CLAIM_MS)}` };

/** With several instances: how often one that holds claims says it is alive, and when it counts as gone. */
const HEARTBEAT_MS = 5_000;
const INSTANCE_DEAD_MS = 15_000;

/** An ack that means "the receiver has it": accepted now, or already seen before. */
export function isDelivered(ack: AckResult): boolean {
  return ack.ok || ack.code === 'duplicate_envelope';
}

/**
 * Delivers the outbox: over the peer's link when there is one (pipelined, many envelopes in
 * flight), by HTTPS POST otherwise. A row leaves the outbox only when the receiver has
 * acknowledged it; failures that a retry can fix are retried with backoff and jitter for
 * 7 days, the rest are marked failed and the sender is told.
 */
export class OutboxWorker {
  private readonly inFlight = new Set<number>();
  private lastCycleAt = -Infinity;
  private pendingWake: NodeJS.Timeout | undefined;
  private readonly inFlightBySite = new Map<string, number>();
  /** A circuit breaker per site: after deliveries that all failed, the site waits with backoff. */
  private readonly breakers = new Map<string, { failures: number; until: number }>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private running = false;
  private rerun = false;
  private stopped = false;
  private readonly maxInFlight = 4000;
  private readonly idle: Array<() => void> = [];
  /** Deliveries whose outcome is not yet written: close() waits for them. */
  private readonly active = new Set<Promise<void>>();

  constructor(private readonly deps: OutboxWorkerDeps) {}

  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastReapAt = -Infinity;

  /** Starts delivering; claims left by a process that died are cleared first. */
  async start(): Promise<void> {
    if (this.deps.instance) {
      // Other instances may be delivering: only the claims of those that stopped beating are freed.
      await this.reapClaims();
      this.heartbeatTimer = setInterval(() => void this.heartbeat().catch((error: unknown) => this.deps.log.warn({ err: (error as Error).message }, 'outbox heartbeat failed')), HEARTBEAT_MS);
      this.heartbeatTimer.unref();
    } else {
      await this.deps.db.updateTable('outbox').set(unclaimed).where('claimed_until', 'is not', null).execute();
    }
    this.wake();
  }

  /** This instance is alive, while it holds claims (an idle one writes nothing). */
  private async heartbeat(force = false): Promise<void> {
    if (!this.deps.instance || (!force && this.inFlight.size === 0)) return;
    const at = this.deps.clock();
    await this.deps.db.insertInto('outbox_instances').values({ id: this.deps.instance, heartbeat_at: at }).onConflict((oc) => oc.column('id').doUpdateSet({ heartbeat_at: at })).execute();
  }

  /** Frees the claims of instances that stopped beating (killed, cut off), at most every few seconds. */
  private async reapClaims(): Promise<void> {
    const now = this.deps.clock();
    if (now - this.lastReapAt < HEARTBEAT_MS) return;
    this.lastReapAt = now;
    const alive = this.deps.db.selectFrom('outbox_instances').select('id').where('heartbeat_at', '>', now - INSTANCE_DEAD_MS);
    const freed = await this.deps.db
      .updateTable('outbox')
      .set(unclaimed)
      .where('claimed_by', 'is not', null)
      .where('claimed_by', 'not in', alive)
      .executeTakeFirst();
    if (Number(freed.numUpdatedRows) > 0) this.deps.log.warn({ rows: Number(freed.numUpdatedRows) }, 'took over outbox rows claimed by an instance that stopped');
    await this.deps.db.deleteFrom('outbox_instances').where('heartbeat_at', '<', now - 24 * 3_600_000).execute();
  }

  /** Something was enqueued or a link came up: look for due work now. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    // Cycles start at least MIN_CYCLE_GAP_MS apart, from a timer: a stream of acks would otherwise
    // chain cycle after cycle in promise continuations alone, and the event loop would serve
    // nothing else (no request, no socket) for as long as the stream lasts.
    const wait = this.lastCycleAt + MIN_CYCLE_GAP_MS - performance.now();
    if (wait > 0) {
      this.pendingWake ??= setTimeout(() => {
        this.pendingWake = undefined;
        this.wake();
      }, wait);
      return;
    }
    this.running = true;
    this.lastCycleAt = performance.now();
    void this.cycle()
      .catch((error: unknown) => {
        // A cycle that could not read or claim (a full disk, say) is tried again at the next wake.
        this.deps.log.warn({ err: (error as Error)?.message }, 'outbox cycle failed; it will run again');
        this.wakeTimer = setTimeout(() => this.wake(), 1000);
        this.wakeTimer.unref();
      })
      .finally(() => {
        this.running = false;
        if (this.rerun && !this.stopped) {
          this.rerun = false;
          this.wake();
        } else if (this.inFlight.size === 0) {
          for (const resolve of this.idle.splice(0)) resolve();
        }
      });
  }

  /** Makes everything queued for this site due now (its link just came up, so its breaker closes). */
  async expedite(site: SiteName): Promise<void> {
    this.breakers.delete(`${site.host}:${site.port}`);
    await this.deps.db
      .updateTable('outbox')
      .set({ next_attempt_at: this.deps.clock() })
      .where('status', '=', 'pending')
      .where('dest_host', '=', site.host)
      .where('dest_port', '=', site.port)
      // Rows in flight keep their lease (CLAIM_MS).
      .where('claimed_until', 'is', null)
      .execute();
    this.wake();
  }

  /** Resolves when no delivery is in flight and nothing due is left (tests and benchmarks). */
  async drained(): Promise<void> {
    for (;;) {
      const due = await this.deps.db.selectFrom('outbox').select('seq').where('status', '=', 'pending').where('next_attempt_at', '<=', this.deps.clock()).limit(1).execute();
      if (due.length === 0 && this.inFlight.size === 0) return;
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        this.wake();
        setTimeout(resolve, 50).unref();
      });
    }
  }

  /**
   * Resolves when no delivery is in flight (after the current cycle), or after `maxMs`; at once
   * when nothing is under way, or when more than `busyAbove` are in flight (waiting would not
   * let a few urgent envelopes through first, only slow a busy outbox down).
   */
  quiet(maxMs: number, busyAbove = Infinity): Promise<void> {
    if ((!this.running && !this.pendingWake && this.inFlight.size === 0) || this.inFlight.size > busyAbove) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Stops taking new work. Call settled() after closing the links to let the last acks be written. */
  stop(): void {
    this.stopped = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.pendingWake) clearTimeout(this.pendingWake);
  }

  async settled(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }


  private async cycle(): Promise<void> {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    const now = this.deps.clock();
    const budget = this.maxInFlight - this.inFlight.size;
    if (budget > 0) {
      // Sites at their in-flight cap are left out of the reading altogether, so a stalled site's
      // backlog is not read again at every wake; rows in flight are claimed (below), so they are
      // not read again either. What a cycle reads is what it can start now.
      const capped = [...this.inFlightBySite].filter(([, n]) => n >= MAX_IN_FLIGHT_PER_SITE).map(([key]) => key);
      // Sites whose breaker is open (every recent attempt failed) wait as a whole, instead of each
      // of their queued envelopes trying on its own.
      for (const [key, breaker] of this.breakers) if (breaker.until > now) capped.push(key);
      if (this.deps.instance) await this.reapClaims();
      const take = async (db: Db): Promise<{ byDest: Map<string, Row[]>; taking: Map<string, number>; claimed: number[] }> => {
        let query = db
          .selectFrom('outbox')
          .select(['seq', 'envelope_id', 'sender', 'dest_host', 'dest_port', 'attempts', 'created_at', 'last_error'])
          // The body's size in bytes, stored with it, to wait for room on a link without reading it.
          .select(sql<number>`coalesce(size, 65536)`.as('size'))
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]));
        for (const key of capped) {
          const at = key.lastIndexOf(':');
          query = query.where((eb) => eb.not(eb.and([eb('dest_host', '=', key.slice(0, at)), eb('dest_port', '=', Number(key.slice(at + 1)))])));
        }
        // At most ROWS_PER_CYCLE read at once: a cycle is a short task, and the next one is 10 ms away.
        // With other instances, rows one of them is claiming right now are skipped, not waited for.
        query = query.orderBy('next_attempt_at').orderBy('seq').limit(Math.min(budget, ROWS_PER_CYCLE));
        const rows = (await (this.deps.instance ? query.forUpdate().skipLocked() : query).execute()) as Row[];
        const byDest = new Map<string, Row[]>();
        const taking = new Map<string, number>();
        for (const row of rows) {
          row.seq = Number(row.seq);
          row.size = Number(row.size);
          if (this.inFlight.has(row.seq)) continue;
          const key = `${row.dest_host}:${row.dest_port}`;
          const count = (this.inFlightBySite.get(key) ?? 0) + (taking.get(key) ?? 0);
          if (count >= MAX_IN_FLIGHT_PER_SITE) continue; // its turn comes when the site has room
          taking.set(key, (taking.get(key) ?? 0) + 1);
          const list = byDest.get(key);
          if (list) list.push(row);
          else byDest.set(key, [row]);
        }
        // Claimed first, then counted as in flight: a claim that fails leaves nothing half taken.
        // A claim lasts until the outcome is written (record() clears it), or a crash: claims are
        // cleared at start (by another instance, once this one stops beating), and one left behind
        // otherwise expires by itself.
        const claimed = [...byDest.values()].flat().map((row) => row.seq);
        for (let i = 0; i < claimed.length; i += 500) {
          await db
            .updateTable('outbox')
            .set({ claimed_until: now + CLAIM_MS, next_attempt_at: now + CLAIM_MS, claimed_by: this.deps.instance ?? null })
            .where('seq', 'in', claimed.slice(i, i + 500))
            .execute();
        }
        return { byDest, taking, claimed };
      };
      const { byDest, taking, claimed } = this.deps.instance
        ? await this.deps.db.transaction().execute(async (trx) => {
            const taken = await take(trx);
            if (taken.claimed.length > 0) {
              // Alive as of this claim (in the same commit, so no other instance sees the claim without it).
              await trx.insertInto('outbox_instances').values({ id: this.deps.instance!, heartbeat_at: now }).onConflict((oc) => oc.column('id').doUpdateSet({ heartbeat_at: now })).execute();
            }
            return taken;
          })
        : await take(this.deps.db);
      for (const seq of claimed) this.inFlight.add(seq);
      for (const [key, n] of taking) this.inFlightBySite.set(key, (this.inFlightBySite.get(key) ?? 0) + n);
      for (const rows of byDest.values()) {
        const dest = { host: rows[0]!.dest_host, port: Number(rows[0]!.dest_port) };
        const delivery = this.deliverTo(dest, rows)
          .then(
            (outcomes) => this.record(outcomes),
            (error: unknown) => this.record(rows.map((row) => ({ row, ack: failure(error) }))),
          )
          .catch((error: unknown) => {
            // The outcome was not written: the claims expire and the rows are read again.
            this.deps.log.error({ err: error }, 'recording deliveries failed; they will be retried');
          });
        this.active.add(delivery);
        void delivery.finally(() => this.active.delete(delivery));
      }
    }
    await this.scheduleNext();
  }

  private async scheduleNext(): Promise<void> {
    if (this.stopped) return;
    const next = await this.deps.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.min('next_attempt_at').as('at'))
      .where('status', '=', 'pending')
      .where('next_attempt_at', '>', this.deps.clock())
      .executeTakeFirst();
    let at = next?.at === null || next?.at === undefined ? undefined : Number(next.at);
    for (const breaker of this.breakers.values()) if (breaker.until > this.deps.clock()) at = Math.min(at ?? Infinity, breaker.until);
    const delay = at === undefined ? 60_000 : Math.max(0, at - this.deps.clock());
    // With other instances, rows they queued or left behind (stopped) are looked for every few seconds.
    this.wakeTimer = setTimeout(() => this.wake(), Math.min(delay, this.deps.instance ? HEARTBEAT_MS : 60_000));
    this.wakeTimer.unref();
  }

  /**
   * Delivers one envelope now, or not at all: for signals that are worthless later (a call's
   * ring and ICE candidates). Nothing is written to the outbox; the caller gets the ack.
   */
  async deliverNow(dest: SiteName, envelopeJson: string, envelopeId: string): Promise<AckResult> {
    const row: Row = { seq: 0, envelope_id: envelopeId, sender: '', dest_host: dest.host, dest_port: dest.port, body: envelopeJson, size: Buffer.byteLength(envelopeJson), attempts: 0, created_at: this.deps.clock(), last_error: null };
    const [outcome] = await this.deliverTo(dest, [row], false);
    return outcome!.ack;
  }

  /**
   * Delivers rows to one site and returns their outcomes; over a link, with `progressive`, each
   * chunk's outcomes are written as they come instead (and nothing is returned).
   */
  private async deliverTo(dest: SiteName, rows: Row[], progressive = true): Promise<Outcome[]> {
    if (sameSite(dest, this.deps.site)) {
      await this.loadBodies(rows);
      return Promise.all(rows.map(async (row) => ({ row, ack: await this.localDelivery(row) })));
    }
    const router = this.deps.router;
    // The direct path to this site failed and no probe of it is due: through a relay.
    if (router && (await router.avoidDirect(dest))) {
      const relayed = await this.viaRelay(router, dest, rows);
      if (relayed) return relayed;
    }
    const link = await this.deps.links.ensure(dest);
    if (!link && router && this.deps.links.unreachable(dest)) {
      // The direct path failed in the network (refused, timed out, blocked): try the relays.
      await router.directFailed(dest);
      const relayed = await this.viaRelay(router, dest, rows);
      if (relayed) return relayed;
    }
    if (link) {
      // Pipelined, but never more than the link's byte budget unacknowledged: bodies are loaded
      // a chunk at a time as acks make room, so a stalled peer holds a bounded amount of memory.
      // Each chunk's outcomes are written as soon as its acks are in, which frees its slots for
      // the next cycle while the rest are still in flight.
      const outcomes: Outcome[] = [];
      const done = (chunk: Outcome[]) => (progressive ? this.record(chunk) : void outcomes.push(...chunk));
      const written: Array<Promise<void>> = [];
      for (let i = 0; i < rows.length; i += CHUNK) {
        const chunk = rows.slice(i, i + CHUNK);
        if (!(await link.room(chunk.reduce((n, r) => n + r.size, 0)))) {
          written.push(Promise.resolve(done(rows.slice(i).map((row) => ({ row, ack: { ok: false, code: 'link_closed', message: 'the link closed before this envelope was sent', retryable: true } })))));
          break;
        }
        await this.loadBodies(chunk);
        written.push(Promise.all(chunk.map((row) => link.send(row.body!, row.envelope_id).catch(failure).then((ack) => ({ row, ack })))).then(done));
      }
      await Promise.all(written);
      return outcomes;
    }
    // No link: fall back to HTTPS POST, at most POSTS_PER_SITE at a time to one site across all
    // deliveries (a site that answers slowly gets no storm), each body read only when its turn comes.
    const key = formatSite(dest);
    return Promise.all(
      rows.map((row) =>
        this.withPostSlot(key, async () => {
          await this.loadBodies([row]);
          const ack = await this.post(dest, row);
          // The body is not needed to record this outcome (only a final refusal compares it):
          // dropped now, so 2,000 rows waiting on a slow site hold ids, not bodies.
          if (isDelivered(ack) || ack.retryable) row.body = undefined;
          return { row, ack };
        }),
      ),
    );
  }

  /** Delivers rows through the friends relay; null when there is no relay path to try. */
  private async viaRelay(router: RelayRouter, dest: SiteName, rows: Row[]): Promise<Outcome[] | null> {
    // Bodies are read only when a relay could take them: a site that is merely down, with no
    // relay anywhere in sight, costs no memory here (its backlog stays on disk).
    if (!(await router.mayRelay(dest, rows.map((row) => row.body)))) return null;
    await this.loadBodies(rows);
    const acks = await router.deliver(dest, rows.map((row) => ({ body: row.body!, id: row.envelope_id })));
    return acks && rows.map((row, i) => ({ row, ack: acks[i]! }));
  }

  private readonly postSlots = new Map<string, { active: number; waiting: Array<() => void> }>();

  private async withPostSlot<T>(key: string, run: () => Promise<T>): Promise<T> {
    let slots = this.postSlots.get(key);
    if (!slots) this.postSlots.set(key, (slots = { active: 0, waiting: [] }));
    if (slots.active >= POSTS_PER_SITE) await new Promise<void>((resolve) => slots!.waiting.push(resolve));
    slots.active++;
    try {
      return await run();
    } finally {
      slots.active--;
      const next = slots.waiting.shift();
      if (next) next();
      else if (slots.active === 0) this.postSlots.delete(key);
    }
  }

  /** Reads the bodies of rows that do not carry theirs yet. */
  private async loadBodies(rows: Row[]): Promise<void> {
    const missing = rows.filter((r) => r.body === undefined);
    if (missing.length === 0) return;
    const found = await this.deps.db.selectFrom('outbox_bodies').select(['seq', 'body']).where('seq', 'in', missing.map((r) => r.seq)).execute();
    const bodies = new Map(found.map((f) => [Number(f.seq), f.body]));
    for (const row of missing) {
      row.body = bodies.get(row.seq) ?? '';
      if (this.deps.restamp && row.body && CLOCK_CODES.has((row.last_error ?? '').split(':')[0]!)) {
        try {
          row.body = await this.deps.restamp(row.body);
          await this.deps.db.updateTable('outbox_bodies').set({ body: row.body }).where('seq', '=', row.seq).execute();
        } catch (error) {
          this.deps.log.warn({ envelope: row.envelope_id, err: (error as Error).message }, 'could not date an envelope again; sending it as it was');
        }
      }
    }
  }

  private async localDelivery(row: Row): Promise<AckResult> {
    try {
      const result = await this.deps.inbox.receiveText(row.body ?? '', { local: true });
      return result.status === 'accepted' ? { ok: true } : { ok: false, code: 'duplicate_envelope' };
    } catch (error) {
      return failure(error);
    }
  }

  private async post(dest: SiteName, row: Row): Promise<AckResult> {
    return postEnvelope(this.deps.http, this.deps.origin(dest), row.body ?? '');
  }

  private outcomeQueue: Outcome[] = [];
  private outcomeWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private flushScheduled = false;

  /**
   * Outcomes are written in one transaction per turn of the event loop, however many deliveries
   * report in it: a link that closes under 2,000 envelopes settles them in one write, not in
   * thirty back-to-back transactions that would hold the loop.
   */
  private record(outcomes: Outcome[]): Promise<void> {
    if (outcomes.length === 0) return Promise.resolve();
    this.outcomeQueue.push(...outcomes);
    return new Promise<void>((resolve, reject) => {
      this.outcomeWaiters.push({ resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flushOutcomes());
      }
    });
  }

  private async flushOutcomes(): Promise<void> {
    this.flushScheduled = false;
    const outcomes = this.outcomeQueue.splice(0);
    const waiters = this.outcomeWaiters.splice(0);
    try {
      await this.writeOutcomes(outcomes);
      for (const w of waiters) w.resolve();
    } catch (error) {
      for (const w of waiters) w.reject(error);
    }
  }

  private async writeOutcomes(outcomes: Outcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const now = this.deps.clock();
    const wallNow = this.deps.now();
    const delivered = outcomes.filter((o) => isDelivered(o.ack)).map((o) => o.row.seq);
    // A link that closed under envelopes in flight (or waiting for room) is no verdict on them:
    // they are due again in a second, in one statement per 500 rows, so closing a busy link costs
    // no pause. (If the site is down, the next dial fails, and from there the backoff grows.)
    const interrupted = outcomes.filter((o) => !isDelivered(o.ack) && o.ack.code === 'link_closed').map((o) => o.row.seq);
    const failed = outcomes.filter((o) => !isDelivered(o.ack) && o.ack.code !== 'link_closed');
    this.updateBreakers(outcomes, now);
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        for (let i = 0; i < delivered.length; i += 500) {
          await trx.deleteFrom('outbox').where('seq', 'in', delivered.slice(i, i + 500)).execute();
          await trx.deleteFrom('outbox_bodies').where('seq', 'in', delivered.slice(i, i + 500)).execute();
        }
        for (let i = 0; i < interrupted.length; i += 500) {
          await trx
            .updateTable('outbox')
            .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: now + 1000, last_error: 'link_closed: the link closed before the ack', claimed_until: null, claimed_by: null }))
            .where('seq', 'in', interrupted.slice(i, i + 500))
            .execute();
        }
        for (const { row, ack } of failed) {
          const age = now - Number(row.created_at);
          const clockTrouble = ack.code !== undefined && CLOCK_CODES.has(ack.code);
          // Clocks that disagree are a reason to wait, not to give up: the envelope is sent again
          // until the receiver's clock and its ts agree (for as long as receivers accept a ts).
          const policy = clockTrouble ? CLOCK_RETRY_POLICY : (this.deps.policy ?? DEFAULT_RETRY_POLICY);
          const random = this.deps.random ?? Math.random;
          // A relay holds it and passes it on by itself: asked again soon, whatever came before.
          const delay = ack.code === 'relay_queued' ? custodyRecheckDelay(row.attempts, age, random, policy) : ack.retryable || clockTrouble ? nextRetryDelay(row.attempts, age, random, policy) : null;
          const sender = row.sender.split('@')[0]!;
          const dest = `${row.dest_host}:${row.dest_port}`;
          let error = `${ack.code ?? 'error'}: ${ack.message ?? ''}`;
          if (clockTrouble) {
            const skew = describeSkew(wallNow, ack.time, dest);
            error += skew ? ` (${skew.text})` : '';
            if (this.shouldWarnClock(dest, now)) {
              await addNotification(trx, sender, 'clock_skew', { to: dest, ...(skew ? { aheadMs: skew.aheadMs } : {}), message: skew?.text ?? `the clocks of this site and ${dest} disagree` }, wallNow);
              this.deps.log.warn({ dest, aheadMs: skew?.aheadMs }, `clocks disagree: ${skew?.text ?? dest}; deliveries wait until they agree`);
            }
          }
          error = error.slice(0, 500);
          if (delay === null) {
            // Only the body that was refused fails: a row signed again meanwhile (a site key
            // rotation) is retried with its new signature instead.
            const unchanged = await trx.selectFrom('outbox_bodies').select('seq').where('seq', '=', row.seq).where('body', '=', row.body ?? '').executeTakeFirst();
            const marked = unchanged ? await trx.updateTable('outbox').set({ status: 'failed', attempts: row.attempts + 1, last_error: error, claimed_until: null, claimed_by: null }).where('seq', '=', row.seq).executeTakeFirst() : { numUpdatedRows: 0n };
            if (Number(marked.numUpdatedRows) === 0) {
              await trx.updateTable('outbox').set({ attempts: row.attempts + 1, next_attempt_at: now, last_error: error, claimed_until: null, claimed_by: null }).where('seq', '=', row.seq).execute();
              continue;
            }
            await addNotification(trx, sender, 'delivery_failed', { envelope: row.envelope_id, to: dest, error }, wallNow);
            this.deps.log.warn({ envelope: row.envelope_id, dest, code: ack.code }, 'delivery failed for good');
          } else {
            await trx.updateTable('outbox').set({ attempts: row.attempts + 1, next_attempt_at: now + delay, last_error: error, claimed_until: null, claimed_by: null }).where('seq', '=', row.seq).execute();
          }
        }
      });
    } finally {
      for (const o of outcomes) {
        this.inFlight.delete(o.row.seq);
        const key = `${o.row.dest_host}:${o.row.dest_port}`;
        const left = (this.inFlightBySite.get(key) ?? 1) - 1;
        if (left > 0) this.inFlightBySite.set(key, left);
        else this.inFlightBySite.delete(key);
      }
    }
    if (delivered.length > 0) this.deps.onDelivered?.(outcomes.filter((o) => isDelivered(o.ack)).map((o) => o.row.envelope_id));
    if (this.stopped) return;
    if (interrupted.length > 0) setTimeout(() => this.wake(), 1000).unref();
    if (failed.length > 0) this.deps.log.debug({ failed: failed.length, dest: formatSite({ host: failed[0]!.row.dest_host, port: Number(failed[0]!.row.dest_port) }) }, 'deliveries will be retried');
    this.wake();
  }

  /**
   * A site that took something is healthy again; one where every attempt of a delivery failed
   * for a reason a retry may fix (unreachable, busy) waits as a whole: 1 s, 2 s, 4 s... up to an
   * hour, with jitter, before any of its envelopes is tried again.
   */
  private updateBreakers(outcomes: Outcome[], now: number): void {
    const bySite = new Map<string, { ok: boolean; retryable: boolean }>();
    for (const { row, ack } of outcomes) {
      if (ack.code === 'link_closed') continue;
      const key = `${row.dest_host}:${row.dest_port}`;
      const state = bySite.get(key) ?? { ok: false, retryable: true };
      // The site answered with a verdict, or a relay took the envelope to pass on: either way the
      // path works, and the site's other envelopes need not wait.
      if (isDelivered(ack) || !ack.retryable || ack.code === 'relay_queued') state.ok = true;
      bySite.set(key, state);
    }
    for (const [key, state] of bySite) {
      if (state.ok) {
        this.breakers.delete(key);
        continue;
      }
      const failures = (this.breakers.get(key)?.failures ?? 0) + 1;
      const delay = nextRetryDelay(failures - 1, 0, this.deps.random ?? Math.random) ?? 60_000;
      this.breakers.set(key, { failures, until: now + delay });
    }
  }

  /** The owner hears about a disagreeing clock once a day per site, not once per envelope. */
  private readonly clockWarned = new Map<string, number>();
  private shouldWarnClock(dest: string, now: number): boolean {
    const last = this.clockWarned.get(dest);
    if (last !== undefined && now - last < 24 * 60 * 60 * 1000) return false;
    this.clockWarned.set(dest, now);
    return true;
  }
}

/** Receivers accept a ts up to 14 days old: retrying longer than that cannot help. */
const CLOCK_RETRY_POLICY: RetryPolicy = { ...DEFAULT_RETRY_POLICY, giveUpAfterMs: 14 * 24 * 60 * 60 * 1000 };

/** Which clock is ahead, by how much, from the receiver's time in its answer. */
export function describeSkew(wallNow: number, receiverTime: string | undefined, dest: string): { aheadMs: number; text: string } | null {
  const theirs = receiverTime ? Date.parse(receiverTime) : NaN;
  if (!Number.isFinite(theirs)) return null;
  const aheadMs = wallNow - theirs;
  const minutes = Math.round(Math.abs(aheadMs) / 60_000);
  const amount = minutes >= 120 ? `${Math.round(minutes / 60)} hours` : `${minutes} minutes`;
  if (minutes === 0) return { aheadMs, text: `this site's clock agrees with ${dest}'s now; the envelope was dated by a clock that was off` };
  return { aheadMs, text: aheadMs > 0 ? `this site's clock is about ${amount} ahead of ${dest}'s` : `${dest}'s clock is about ${amount} ahead of this site's` };
}
