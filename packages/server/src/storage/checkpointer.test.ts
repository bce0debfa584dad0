import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FALLBACK_PAGES, WalCheckpointer, walCheckpointer } from './checkpointer.js';
import { openSqlite } from './db.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-checkpoint-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('WAL checkpoints on a worker thread', () => {
  it('copy a busy site\'s WAL into its database while it keeps writing, and the file is whole after close', async () => {
    const file = path.join(dir, 'busy.db');
    const db = openSqlite({ file });
    await sql`create table notes (id integer primary key, body text not null)`.execute(db);
    const before = walCheckpointer.done;
    // About 3 MB in 60 transactions: past the size that starts the worker, far below the
    // fallback at which the site's own connection would checkpoint (FALLBACK_PAGES).
    const body = 'x'.repeat(1000);
    let rows = 0;
    for (let t = 0; t < 60; t++) {
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < 50; i++) await sql`insert into notes (body) values (${body})`.execute(trx);
      });
      rows += 50;
    }
    expect(3_000_000 / 4096).toBeLessThan(FALLBACK_PAGES);
    // Only a checkpoint moves pages from the WAL into the database file.
    await vi.waitFor(() => {
      expect(walCheckpointer.done).toBeGreaterThan(before);
      expect(fs.statSync(file).size).toBeGreaterThan(2_000_000);
    }, { timeout: 30_000, interval: 20 });
    expect(walCheckpointer.lastError).toBeUndefined();
    // The site goes on writing after a checkpoint, and reads what it wrote.
    await db.transaction().execute((trx) => sql`insert into notes (body) values (${'last'})`.execute(trx));
    const count = await sql<{ n: number }>`select count(*) as n from notes`.execute(db);
    expect(count.rows[0]!.n).toBe(rows + 1);
    await db.destroy();
    // Closing last, the site's connection checkpointed everything and removed the WAL.
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    const reopened = new SQLite(file, { readonly: true });
    expect((reopened.prepare('select count(*) as n from notes').get() as { n: number }).n).toBe(rows + 1);
    reopened.close();
  });

  it('leaves a quiet site alone: no thread for a small WAL', async () => {
    const quiet = new WalCheckpointer();
    const file = path.join(dir, 'quiet.db');
    const db = new SQLite(file);
    db.exec('PRAGMA journal_mode = WAL; create table t (x); insert into t values (1);');
    quiet.committed(file);
    // What its timer runs, run now: the WAL is small, so no checkpoint is asked for.
    (quiet as unknown as { ask(): void }).ask();
    expect(quiet.done).toBe(0);
    expect((quiet as unknown as { worker?: unknown }).worker).toBeUndefined();
    await quiet.release(file);
    db.close();
  });
});
