import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

interface Job<R> {
  run: (trx: Kysely<Database>) => Promise<R>;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: work submitted in the same turn of the event loop shares one transaction,
 * so a burst of 1,000 envelopes costs a handful of fsyncs instead of 1,000. If the shared
 * transaction fails, each job is run again alone, so one bad job cannot sink its neighbours.
 */
export class CommitBatcher {
  private queue: Job<unknown>[] = [];
  private scheduled = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Kysely<Database>, private readonly maxBatch = 500) {}

  submit<R>(run: (trx: Kysely<Database>) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ run, resolve, reject } as Job<unknown>);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.flushing = this.flush();
        });
      }
    });
  }

  /** Resolves when everything submitted so far has committed or failed. */
  async idle(): Promise<void> {
    while (this.scheduled || this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    await this.flushing;
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (this.queue.length > 0) {
      setImmediate(() => {
        this.flushing = this.flush();
      });
    }
    else this.scheduled = false;
    if (batch.length === 0) return;
    if (batch.length === 1) return this.runAlone(batch[0]!);
    const results: unknown[] = [];
    try {
      await this.db.transaction().execute(async (trx) => {
        for (const job of batch) results.push(await job.run(trx));
      });
    } catch {
      for (const job of batch) await this.runAlone(job);
      return;
    }
    batch.forEach((job, i) => job.resolve(results[i]));
  }

  private async runAlone(job: Job<unknown>): Promise<void> {
    try {
      job.resolve(await this.db.transaction().execute((trx) => job.run(trx)));
    } catch (error) {
      job.reject(error);
    }
  }
}
