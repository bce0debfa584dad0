import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DeviceSecrets } from '@hearth/protocol';
import { openJob, type Opened, type OpenJob } from './dm-open.js';

interface Pending {
  /** The thread doing it: a thread stopped fails only its own work. */
  worker: Worker;
  resolve: (results: Opened[]) => void;
  reject: (error: Error) => void;
}

/** Up to this many threads open DMs; a home device rarely has more cores to spare. */
const MAX_THREADS = 4;
/** Smaller batches (a DM or a few as they come) are opened in place: handing them over costs more than it saves. */
const MIN_BATCH_FOR_THREADS = 16;
/** Threads are stopped after this long without work: each keeps 15-20 MB, and a vault is idle most of the time. */
const IDLE_STOP_MS = 30_000;

/** Threads by default: one per core, none on a single core (a worker there only adds hand-offs). */
export function defaultOpenThreads(): number {
  const cores = os.availableParallelism();
  return cores < 2 ? 0 : Math.min(cores, MAX_THREADS);
}

/**
 * Opens queued DMs (decrypt, and check the signature when the sender's keys are known) on worker
 * threads, so that a vault catching up on thousands of messages uses every core while its main
 * thread stores and acks. A batch is split across the threads and comes back in order. Threads
 * start with the first large batch and stop when idle. With no threads, for small batches, or
 * after a thread has died, DMs are opened in place: slower, never wrong.
 */
export class DmOpener {
  private workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private broken = false;
  private idleTimer: NodeJS.Timeout | undefined;

  private readonly wanted: number;
  private readonly workerFile: URL;
  private readonly idleStopMs: number;

  constructor(
    private readonly device: DeviceSecrets,
    options: { threads?: number; workerFile?: URL; idleStopMs?: number } = {},
  ) {
    this.wanted = options.threads ?? defaultOpenThreads();
    this.workerFile = options.workerFile ?? new URL('./open-worker.js', import.meta.url);
    this.idleStopMs = options.idleStopMs ?? IDLE_STOP_MS;
  }

  /** How many threads are running now. */
  get threads(): number {
    return this.workers.length;
  }

  /** Opens every job; results in the jobs' order. */
  async open(jobs: OpenJob[]): Promise<Opened[]> {
    if (this.wanted === 0 || this.broken || jobs.length < MIN_BATCH_FOR_THREADS) return jobs.map((job) => openJob(job, this.device));
    if (this.workers.length === 0) this.startWorkers();
    clearTimeout(this.idleTimer);
    const share = Math.ceil(jobs.length / this.workers.length);
    const parts = this.workers
      .map((worker, i) => ({ worker, slice: jobs.slice(i * share, (i + 1) * share) }))
      .filter((part) => part.slice.length > 0)
      .map(({ worker, slice }) => this.send(worker, slice));
    try {
      return (await Promise.all(parts)).flat();
    } finally {
      if (this.pending.size === 0 && this.workers.length > 0) {
        this.idleTimer = setTimeout(() => void this.stopWorkers(), this.idleStopMs);
        this.idleTimer.unref();
      }
    }
  }

  async close(): Promise<void> {
    this.broken = true;
    await this.stopWorkers();
  }

  private startWorkers(): void {
    for (let i = 0; i < this.wanted; i++) {
      const worker = new Worker(this.workerFile, { workerData: { device: this.device } });
      worker.on('message', (reply: { id: number; results?: Opened[]; failure?: string }) => {
        const waiting = this.pending.get(reply.id);
        if (!waiting) return;
        this.pending.delete(reply.id);
        if (reply.results) waiting.resolve(reply.results);
        else waiting.reject(new Error(`opening messages failed: ${reply.failure}`));
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        // A thread stopped by stopWorkers() is no longer listed; any other exit is a failure.
        if (this.workers.includes(worker)) this.fail(new Error(`a thread opening messages stopped (exit ${code})`));
      });
      // A thread never keeps the vault's process alive by itself (after the listeners: adding one refs it again).
      worker.unref();
      this.workers.push(worker);
    }
  }

  private async stopWorkers(): Promise<void> {
    clearTimeout(this.idleTimer);
    const stopping = this.workers;
    this.workers = [];
    // Only these threads' work: a batch started meanwhile is on new threads.
    this.rejectPending(new Error('the vault is stopping'), stopping);
    await Promise.all(stopping.map((worker) => worker.terminate()));
  }

  private send(worker: Worker, jobs: OpenJob[]): Promise<Opened[]> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { worker, resolve, reject });
      worker.postMessage({ id, jobs });
    });
  }

  /** A dead thread fails what it was doing (nothing of it was acked: it comes again); from then on DMs are opened in place. */
  private fail(error: Error): void {
    this.broken = true;
    this.rejectPending(error);
    void this.stopWorkers();
  }

  private rejectPending(error: Error, of?: Worker[]): void {
    for (const [id, waiting] of this.pending) {
      if (of && !of.includes(waiting.worker)) continue;
      this.pending.delete(id);
      waiting.reject(error);
    }
  }
}
