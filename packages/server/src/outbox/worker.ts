import { formatSite, HearthError, isRetryableAnswer, nextRetryDelay, sameSite, type SiteName, type RetryPolicy, DEFAULT_RETRY_POLICY } from '@hearth/protocol';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import type { OutboxTable } from '../storage/schema.js';
import { addNotification } from '../storage/notifications.js';
import type { Inbox } from '../federation/inbox.js';
import type { LinkManager } from '../federation/link-manager.js';
import type { AckResult } from '../federation/link.js';
import type { HttpClient } from '../net/http-client.js';

type Row = Pick<OutboxTable, 'envelope_id' | 'sender' | 'dest_host' | 'dest_port' | 'body' | 'attempts' | 'created_at'> & { seq: number };

type Outcome = { row: Row; ack: AckResult };

export interface OutboxWorkerDeps {
  db: Db;
  site: SiteName;
  links: LinkManager;
  inbox: Inbox;
  http: HttpClient;
  origin: (site: SiteName) => string;
  log: Logger;
  now: () => number;
  random?: () => number;
  policy?: RetryPolicy;
}

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
  private wakeTimer: NodeJS.Timeout | undefined;
  private running = false;
  private rerun = false;
  private stopped = false;
  private readonly maxInFlight = 4000;
  private readonly idle: Array<() => void> = [];
  /** Deliveries whose outcome is not yet written: close() waits for them. */
  private readonly active = new Set<Promise<void>>();

  constructor(private readonly deps: OutboxWorkerDeps) {}

  start(): void {
    this.wake();
  }

  /** Something was enqueued or a link came up: look for due work now. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = true;
    void this.cycle().finally(() => {
      this.running = false;
      if (this.rerun && !this.stopped) {
        this.rerun = false;
        this.wake();
      } else if (this.inFlight.size === 0) {
        for (const resolve of this.idle.splice(0)) resolve();
      }
    });
  }

  /** Makes everything queued for this site due now (its link just came up). */
  async expedite(site: SiteName): Promise<void> {
    await this.deps.db
      .updateTable('outbox')
      .set({ next_attempt_at: this.deps.now() })
      .where('status', '=', 'pending')
      .where('dest_host', '=', site.host)
      .where('dest_port', '=', site.port)
      .execute();
    this.wake();
  }

  /** Resolves when no delivery is in flight and nothing due is left (tests and benchmarks). */
  async drained(): Promise<void> {
    for (;;) {
      const due = await this.deps.db.selectFrom('outbox').select('seq').where('status', '=', 'pending').where('next_attempt_at', '<=', this.deps.now()).limit(1).execute();
      if (due.length === 0 && this.inFlight.size === 0) return;
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        this.wake();
        setTimeout(resolve, 50).unref();
      });
    }
  }

  /** Stops taking new work. Call settled() after closing the links to let the last acks be written. */
  stop(): void {
    this.stopped = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
  }

  async settled(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  /**
   * Rows are taken in seq order. Everything up to `highWater` has been handed to a delivery
   * already: such rows are either in flight, gone (delivered), or rescheduled with attempts > 0.
   * So a cycle reads only new rows past the mark plus due retries, never the rows in flight.
   */
  private highWater = 0;

  private async cycle(): Promise<void> {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    const now = this.deps.now();
    const budget = this.maxInFlight - this.inFlight.size;
    if (budget > 0) {
      const columns = ['seq', 'envelope_id', 'sender', 'dest_host', 'dest_port', 'body', 'attempts', 'created_at'] as const;
      const fresh = (await this.deps.db
        .selectFrom('outbox')
        .select(columns)
        .where('seq', '>', this.highWater)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('seq')
        .limit(budget)
        .execute()) as Row[];
      const retries = (await this.deps.db
        .selectFrom('outbox')
        .select(columns)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where('seq', '<=', this.highWater)
        .where('attempts', '>', 0)
        .orderBy('next_attempt_at')
        .limit(budget)
        .execute()) as Row[];
      const rows = [...retries.filter((row) => !this.inFlight.has(Number(row.seq))), ...fresh].slice(0, budget);
      const byDest = new Map<string, Row[]>();
      for (const row of rows) {
        row.seq = Number(row.seq);
        this.highWater = Math.max(this.highWater, row.seq);
        this.inFlight.add(row.seq);
        const key = `${row.dest_host}:${row.dest_port}`;
        const list = byDest.get(key);
        if (list) list.push(row);
        else byDest.set(key, [row]);
      }
      for (const rows of byDest.values()) {
        const dest = { host: rows[0]!.dest_host, port: Number(rows[0]!.dest_port) };
        const delivery = this.deliverTo(dest, rows)
          .then(
            (outcomes) => this.record(outcomes),
            (error: unknown) => this.record(rows.map((row) => ({ row, ack: failure(error) }))),
          )
          .catch((error: unknown) => {
            // The outcome was not written; start the next sweep from the beginning so these rows are seen again.
            this.highWater = 0;
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
      .where('next_attempt_at', '>', this.deps.now())
      .executeTakeFirst();
    const at = next?.at === null || next?.at === undefined ? undefined : Number(next.at);
    const delay = at === undefined ? 60_000 : Math.max(0, at - this.deps.now());
    this.wakeTimer = setTimeout(() => this.wake(), Math.min(delay, 60_000));
    this.wakeTimer.unref();
  }

  /**
   * Delivers one envelope now, or not at all: for signals that are worthless later (a call's
   * ring and ICE candidates). Nothing is written to the outbox; the caller gets the ack.
   */
  async deliverNow(dest: SiteName, envelopeJson: string, envelopeId: string): Promise<AckResult> {
    const row: Row = { seq: 0, envelope_id: envelopeId, sender: '', dest_host: dest.host, dest_port: dest.port, body: envelopeJson, attempts: 0, created_at: this.deps.now() };
    const [outcome] = await this.deliverTo(dest, [row]);
    return outcome!.ack;
  }

  private async deliverTo(dest: SiteName, rows: Row[]): Promise<Outcome[]> {
    if (sameSite(dest, this.deps.site)) {
      return Promise.all(rows.map(async (row) => ({ row, ack: await this.localDelivery(row) })));
    }
    const link = await this.deps.links.ensure(dest);
    if (link) {
      return Promise.all(rows.map(async (row) => ({ row, ack: await link.send(row.body, row.envelope_id).catch(failure) })));
    }
    // No link: fall back to HTTPS POST, a few at a time.
    const outcomes: Outcome[] = [];
    const queue = [...rows];
    await Promise.all(
      Array.from({ length: Math.min(8, queue.length) }, async () => {
        for (let row = queue.shift(); row; row = queue.shift()) outcomes.push({ row, ack: await this.post(dest, row) });
      }),
    );
    return outcomes;
  }

  private async localDelivery(row: Row): Promise<AckResult> {
    try {
      const result = await this.deps.inbox.receiveText(row.body, { local: true });
      return result.status === 'accepted' ? { ok: true } : { ok: false, code: 'duplicate_envelope' };
    } catch (error) {
      return failure(error);
    }
  }

  private async post(dest: SiteName, row: Row): Promise<AckResult> {
    try {
      const res = await this.deps.http.request({
        url: `${this.deps.origin(dest)}/federation/inbox`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: row.body,
        timeoutMs: 15_000,
        maxBytes: 16 * 1024,
      });
      if (res.status >= 200 && res.status < 300) return { ok: true };
      let code = `http_${res.status}`;
      let message = `answered ${res.status}`;
      try {
        const body = JSON.parse(res.text) as { error?: { code?: string; message?: string } };
        code = body.error?.code ?? code;
        message = body.error?.message ?? message;
      } catch {
        /* not JSON: keep the status */
      }
      // Retry by the code's registry entry (key_unknown is a 401 that asks for a retry), else by status.
      return { ok: false, code, message, retryable: isRetryableAnswer(code, res.status) };
    } catch (error) {
      return failure(error);
    }
  }

  private async record(outcomes: Outcome[]): Promise<void> {
    const now = this.deps.now();
    const delivered = outcomes.filter((o) => isDelivered(o.ack)).map((o) => o.row.seq);
    const failed = outcomes.filter((o) => !isDelivered(o.ack));
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        for (let i = 0; i < delivered.length; i += 500) {
          await trx.deleteFrom('outbox').where('seq', 'in', delivered.slice(i, i + 500)).execute();
        }
        for (const { row, ack } of failed) {
          const age = now - Number(row.created_at);
          const delay = ack.retryable ? nextRetryDelay(row.attempts, age, this.deps.random ?? Math.random, this.deps.policy ?? DEFAULT_RETRY_POLICY) : null;
          const error = `${ack.code ?? 'error'}: ${ack.message ?? ''}`.slice(0, 500);
          if (delay === null) {
            // Only the body that was refused fails: a row signed again meanwhile (a site key
            // rotation) is retried with its new signature instead.
            const marked = await trx.updateTable('outbox').set({ status: 'failed', attempts: row.attempts + 1, last_error: error }).where('seq', '=', row.seq).where('body', '=', row.body).executeTakeFirst();
            if (Number(marked.numUpdatedRows) === 0) {
              await trx.updateTable('outbox').set({ attempts: row.attempts + 1, next_attempt_at: now, last_error: error }).where('seq', '=', row.seq).execute();
              continue;
            }
            const sender = row.sender.split('@')[0]!;
            await addNotification(trx, sender, 'delivery_failed', { envelope: row.envelope_id, to: `${row.dest_host}:${row.dest_port}`, error }, now);
            this.deps.log.warn({ envelope: row.envelope_id, dest: `${row.dest_host}:${row.dest_port}`, code: ack.code }, 'delivery failed for good');
          } else {
            await trx.updateTable('outbox').set({ attempts: row.attempts + 1, next_attempt_at: now + delay, last_error: error }).where('seq', '=', row.seq).execute();
          }
        }
      });
    } finally {
      for (const o of outcomes) this.inFlight.delete(o.row.seq);
    }
    if (this.stopped) return;
    if (failed.length > 0) this.deps.log.debug({ failed: failed.length, dest: formatSite({ host: failed[0]!.row.dest_host, port: Number(failed[0]!.row.dest_port) }) }, 'deliveries will be retried');
    this.wake();
  }
}

function failure(error: unknown): AckResult {
  if (error instanceof HearthError) return { ok: false, code: error.code, message: error.message, retryable: error.retryable || error.status >= 500 };
  return { ok: false, code: 'error', message: (error as Error)?.message ?? String(error), retryable: true };
}
