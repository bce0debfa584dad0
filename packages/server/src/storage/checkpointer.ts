import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * SQLite's WAL checkpoints, moved off the event loop. With SQLite's own automatic checkpoint,
 * the commit that fills the WAL to 1,000 pages copies them all into the database file and waits
 * for two fsyncs, on the thread that serves every request: 25-30 such commits of 5-30 ms each
 * in 10,000 DMs, about 0.25 s of a 4 s ingest with the event loop stopped (measured with
 * bench/vault.mjs). Here a worker thread, with its own connection to the file, runs a PASSIVE
 * checkpoint soon after commits: it never blocks the site's connection, which keeps writing
 * meanwhile, and what SQLite promises on a crash is the same (checkpoints are SQLite's own).
 *
 * The worker starts only once a WAL has grown past START_BYTES (a busy site; an idle one never
 * pays for a thread), and serves every SQLite file of the process (a hosting service's sites).
 * The site's own connection keeps an automatic checkpoint at FALLBACK_PAGES, far past where the
 * worker acts, so the WAL stays bounded even if the worker could not keep up.
 */
export const FALLBACK_PAGES = 10_000;
const START_BYTES = 1 << 20;
/** How soon after a commit its checkpoint is asked for: commits in between share it. */
const DELAY_MS = 200;

// The worker's code, run with `eval` so that the bundled `hearth` needs no second file. Its
// databases are never dropped, like the site's (storage/db.ts, keepAlive): better-sqlite3 12 on
// Node 24 aborts when the garbage collector finalizes one.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const open = new Map();
const kept = [];
parentPort.on('message', ({ op, file, id }) => {
  if (op === 'checkpoint') {
    let error;
    try {
      let db = open.get(file);
      if (!db) {
        db = new Database(file, { fileMustExist: true });
        kept.push(db);
        db.exec('PRAGMA synchronous = NORMAL; PRAGMA cache_size = -64;');
        open.set(file, db);
      }
      db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch (e) {
      error = String(e && e.message);
    }
    parentPort.postMessage({ op: 'done', file, error });
  } else if (op === 'release') {
    const db = open.get(file);
    open.delete(file);
    try { if (db) db.close(); } catch {}
    parentPort.postMessage({ op: 'released', id });
  }
});
`;

export class WalCheckpointer {
  private worker: Worker | undefined;
  /** Files committed to since their last checkpoint was asked for. */
  private readonly due = new Set<string>();
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly releases = new Map<number, () => void>();
  private nextId = 0;
  /** The last error a checkpoint met, for tests and diagnosis (the fallback keeps the WAL bounded). */
  lastError: string | undefined;
  /** Checkpoints the worker has run (tests). */
  done = 0;

  /** Told after a commit on `file` (the path of a SQLite database in WAL mode). */
  committed(file: string): void {
    this.due.add(file);
    this.timer ??= setTimeout(() => this.ask(), DELAY_MS).unref();
  }

  /** Resolves once the worker holds no connection to `file` (before the site's own closes, so that it checkpoints last and removes the WAL). */
  release(file: string): Promise<void> {
    this.due.delete(file);
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    const id = this.nextId++;
    // Held open while the answer is awaited: a caller closing its database must see it closed.
    worker.ref();
    return new Promise((resolve) => {
      this.releases.set(id, () => {
        if (this.releases.size === 1) worker.unref();
        resolve();
      });
      worker.postMessage({ op: 'release', file, id });
    });
  }

  private ask(): void {
    this.timer = undefined;
    for (const file of this.due) {
      if (this.inFlight.has(file)) continue;
      if (!this.worker && (fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0) < START_BYTES) continue;
      this.due.delete(file);
      this.inFlight.add(file);
      this.start().postMessage({ op: 'checkpoint', file });
    }
    // Files left due (a small WAL, a checkpoint in flight) are looked at with the next commit.
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sqlite: createRequire(import.meta.url).resolve('better-sqlite3') } });
    worker.on('message', (message: { op: 'done'; file: string; error?: string } | { op: 'released'; id: number }) => {
      if (message.op === 'released') {
        this.releases.get(message.id)?.();
        this.releases.delete(message.id);
        return;
      }
      this.done++;
      if (message.error) this.lastError = message.error;
      this.inFlight.delete(message.file);
      if (this.due.has(message.file)) this.timer ??= setTimeout(() => this.ask(), DELAY_MS).unref();
    });
    // A worker that fails leaves the checkpoints to SQLite's own, at FALLBACK_PAGES.
    worker.on('error', (error) => {
      this.lastError = error.message;
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      this.inFlight.clear();
      for (const resolve of this.releases.values()) resolve();
      this.releases.clear();
    });
    // After the listeners, which would hold the process open again: the worker never keeps a
    // process alive that has nothing else to do (a CLI command, a site that stopped).
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

/** One for the process: every SQLite file it opens shares the worker. */
export const walCheckpointer = new WalCheckpointer();
