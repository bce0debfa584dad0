import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../../../tests/helpers/scratch.js';
import { openSqlite } from './db.js';

const dir = scratchDir('sqlite-settings');

describe("a site's SQLite connection", () => {
  it('keeps 4,000 pages of WAL between checkpoints and cuts the file back to 24 MB', async () => {
    const db = openSqlite({ file: path.join(dir, 'settings.db') });
    try {
      const read = async (name: string) => Object.values((await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(db)).rows[0]!)[0];
      expect(await read('journal_mode')).toBe('wal');
      expect(await read('wal_autocheckpoint')).toBe(4000);
      expect(await read('journal_size_limit')).toBe(24 * 1024 * 1024);
      // More than SQLite's default of 1,000 pages, in many commits: the WAL holds them all.
      await sql`create table filler (body blob)`.execute(db);
      for (let i = 0; i < 30; i++) await sql`insert into filler (body) values (randomblob(200000))`.execute(db);
      expect(fs.statSync(path.join(dir, 'settings.db-wal')).size).toBeGreaterThan(1000 * 4096 * 1.2);
    } finally {
      await db.destroy();
    }
  });
});
