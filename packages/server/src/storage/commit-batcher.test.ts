import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CommitBatcher } from './commit-batcher.js';
import { migrateToLatest, openSqlite, type Db } from './db.js';

describe('commit batcher (real SQLite)', () => {
  let db: Db;
  afterEach(async () => db?.destroy());

  it('commits a burst together, and one failing job does not sink the others', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-batch-'));
    db = openSqlite({ file: path.join(dir, 'test.db') });
    await migrateToLatest(db);
    const batcher = new CommitBatcher(db);
    const insert = (id: string) => batcher.submit((trx) => trx.insertInto('inbox_seen').values({ envelope_id: id, received_at: 1 }).execute());
    const results = await Promise.allSettled([insert('a'), insert('b'), insert('a'), insert('c')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const rows = await db.selectFrom('inbox_seen').select('envelope_id').orderBy('envelope_id').execute();
    expect(rows.map((r) => r.envelope_id)).toEqual(['a', 'b', 'c']);
    await batcher.idle();
  });
});
