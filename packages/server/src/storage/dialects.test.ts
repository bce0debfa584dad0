import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { CommitBatcher } from './commit-batcher.js';
import { compiledOnce } from './compiled.js';
import { migrateToLatest, openDatabase, type Db } from './db.js';
import { dialectOf, type DatabaseTarget } from './dialect.js';
import { parentsFirst } from './migrate-storage.js';
import { nextPostSeq } from './posts.js';
import { DM_ONCE } from './dms.js';
import { isUniqueViolation } from './storage-errors.js';
import { defaultSchemaFor } from '../site-config.js';

/**
 * The storage layer on the dialect of this test pass: the embedded SQLite file, or PostgreSQL
 * when `npm test` runs its second pass (HEARTH_TEST_PG_URL, a throwaway cluster).
 */
function target(): DatabaseTarget {
  const url = process.env.HEARTH_TEST_PG_URL;
  if (url) return { kind: 'postgres', url, schema: `u_${randomBytes(5).toString('hex')}` };
  return { kind: 'sqlite', file: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-dialect-')), 'test.db') };
}

describe(`storage on ${process.env.HEARTH_TEST_PG_URL ? 'PostgreSQL' : 'SQLite'}`, () => {
  const open: Db[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.destroy();
  });
  const fresh = async () => {
    const db = openDatabase(target());
    open.push(db);
    await migrateToLatest(db);
    return db;
  };

  it('migrates many new sites at once (a hosting service starting, tests in parallel)', async () => {
    const dbs = await Promise.all(Array.from({ length: 8 }, () => fresh()));
    for (const db of dbs) expect(Number((await db.selectFrom('kysely_migration' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBeGreaterThan(10);
  });

  it.runIf(process.env.HEARTH_TEST_PG_URL)('migrates new sites while other sites\' schemas are dropped (a site removed, tests cleaning up)', async () => {
    // Kysely's migrator reads every schema's catalog; a schema dropped during that read made it
    // fail with "relation ... does not exist" (CI saw it). Several rounds, as it is a race.
    for (let round = 0; round < 4; round++) {
      const doomed = await Promise.all(
        Array.from({ length: 6 }, async () => {
          const where = target() as Extract<DatabaseTarget, { kind: 'postgres' }>;
          const db = openDatabase(where);
          await migrateToLatest(db);
          await db.destroy();
          return where.schema;
        }),
      );
      const dropper = openDatabase({ ...(target() as Extract<DatabaseTarget, { kind: 'postgres' }>) });
      open.push(dropper);
      const [, migrated] = await Promise.all([
        Promise.all(doomed.map((schema) => sql`drop schema ${sql.id(schema)} cascade`.execute(dropper))),
        Promise.all(Array.from({ length: 6 }, () => fresh())),
      ]);
      for (const db of migrated) expect(Number((await db.selectFrom('kysely_migration' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBeGreaterThan(10);
    }
  });

  it('tells a DM stored twice (the unique index) from other failures, on either dialect', async () => {
    const db = await fresh();
    await db.insertInto('users').values({ username: 'ann', display_name: 'Ann', bio: '', avatar_url: '', password_hash: 'x', site_secret_key: 'x', site_public_key: 'x', created_at: 1 }).execute();
    const row = { username: 'ann', envelope_id: 'e1', direction: 'in' as const, peer: 'bob@b.example', ciphertext: '{}', created_at: 1, message_key: 'k1' };
    await db.insertInto('dm_messages').values(row).execute();
    const again = await db.insertInto('dm_messages').values({ ...row, envelope_id: 'e2' }).execute().catch((error: unknown) => error);
    expect(isUniqueViolation(again, DM_ONCE)).toBe(true);
    // Another unique index (the envelope id) is not the DM's.
    const sameEnvelope = await db.insertInto('dm_messages').values({ ...row, message_key: 'k2' }).execute().catch((error: unknown) => error);
    expect(isUniqueViolation(sameEnvelope, DM_ONCE)).toBe(false);
    expect(isUniqueViolation(new Error('other'), DM_ONCE)).toBe(false);
  });

  it('is told apart by instanceof, as the minified bundle needs', async () => {
    const db = await fresh();
    expect(dialectOf(db)).toBe(process.env.HEARTH_TEST_PG_URL ? 'postgres' : 'sqlite');
  });

  it('numbers the posts once each, even when many transactions take a number at once', async () => {
    const db = await fresh();
    const numbers = await Promise.all(Array.from({ length: 40 }, () => db.transaction().execute((trx) => nextPostSeq(trx))));
    expect(new Set(numbers).size).toBe(40);
    expect(Math.max(...numbers)).toBe(40);
  });

  it('gives big integers back as numbers and sorts text byte by byte, as SQLite does', async () => {
    const db = await fresh();
    const at = 1_795_000_000_123;
    for (const id of ['b', 'B', 'a_', 'a-', 'é', 'Z']) await db.insertInto('inbox_seen').values({ envelope_id: id, received_at: at }).execute();
    const rows = await db.selectFrom('inbox_seen').select(['envelope_id', 'received_at']).orderBy('envelope_id').execute();
    expect(rows.map((r) => r.envelope_id)).toEqual(['B', 'Z', 'a-', 'a_', 'b', 'é']);
    expect(rows[0]!.received_at).toBe(at);
    const count = await db.selectFrom('inbox_seen').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(count.n).toBe(6);
  });

  it('group commit: one failing job does not sink the others', async () => {
    const db = await fresh();
    const batcher = new CommitBatcher(db);
    const insert = (id: string) => batcher.submit((trx) => trx.insertInto('inbox_seen').values({ envelope_id: id, received_at: 1 }).execute());
    const results = await Promise.allSettled([insert('a'), insert('b'), insert('a'), insert('c')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((await db.selectFrom('inbox_seen').select('envelope_id').orderBy('envelope_id').execute()).map((r) => r.envelope_id)).toEqual(['a', 'b', 'c']);
    await batcher.idle();
  });

  it('runs a statement compiled once with new values each time, inside and outside a transaction', async () => {
    const db = await fresh();
    const insert = compiledOnce((q, v: { id: string; at: number }) => q.insertInto('inbox_seen').values({ envelope_id: v.id, received_at: v.at }).onConflict((oc) => oc.column('envelope_id').doNothing()));
    const find = compiledOnce((q, v: { id: string }) => q.selectFrom('inbox_seen').select(['envelope_id', 'received_at']).where('envelope_id', '=', v.id).limit(1));
    expect(Number((await insert(db, { id: 'one', at: 1 })).numAffectedRows)).toBe(1);
    await db.transaction().execute(async (trx) => {
      expect(Number((await insert(trx, { id: 'two', at: 2 })).numAffectedRows)).toBe(1);
      expect(Number((await insert(trx, { id: 'one', at: 3 })).numAffectedRows)).toBe(0);
    });
    expect((await find(db, { id: 'two' })).rows).toEqual([{ envelope_id: 'two', received_at: 2 }]);
    expect((await find(db, { id: 'one' })).rows).toEqual([{ envelope_id: 'one', received_at: 1 }]);
    expect((await find(db, { id: 'three' })).rows).toEqual([]);
    // The same as the query builder gives.
    expect(await db.selectFrom('inbox_seen').select(['envelope_id', 'received_at']).where('envelope_id', '=', 'two').execute()).toEqual((await find(db, { id: 'two' })).rows);
  });

  it('a compiled statement that fails in a transaction rolls the whole transaction back', async () => {
    const db = await fresh();
    const insert = compiledOnce((q, v: { id: string }) => q.insertInto('inbox_seen').values({ envelope_id: v.id, received_at: 1 }));
    const count = compiledOnce((q) => q.selectFrom('inbox_seen').select((eb) => eb.fn.countAll<number>().as('n')));
    await insert(db, { id: 'kept' });
    const failed = db.transaction().execute(async (trx) => {
      await insert(trx, { id: 'first' });
      expect(Number((await count(trx, {})).rows[0]!.n)).toBe(2);
      await insert(trx, { id: 'kept' }); // the primary key: fails
    });
    await expect(failed).rejects.toThrow(/UNIQUE constraint|duplicate key/);
    expect(Number((await count(db, {})).rows[0]!.n)).toBe(1);
  });

  it('refuses a compiled statement whose value Kysely did not bind as a parameter', async () => {
    const db = await fresh();
    // sql.raw writes the stand-in into the SQL text itself: it must fail, not run a wrong query.
    const broken = compiledOnce((q, v: { id: string }) => q.selectFrom('inbox_seen').selectAll().where(sql.raw(`envelope_id = '${v.id.length}'`)));
    await expect(broken(db, { id: 'x' })).rejects.toThrow(/"id" is not a parameter/);
  });

  it('two sites in one database keep apart (each in its own schema on PostgreSQL)', async () => {
    const [one, two] = [await fresh(), await fresh()];
    await one.insertInto('inbox_seen').values({ envelope_id: 'only-in-one', received_at: 1 }).execute();
    expect(await two.selectFrom('inbox_seen').selectAll().execute()).toEqual([]);
    expect((await one.selectFrom('inbox_seen').selectAll().execute()).length).toBe(1);
  });
});

describe('storage moves and names (pure)', () => {
  it('orders tables parents first, and says when foreign keys form a cycle', () => {
    const order = parentsFirst([
      { name: 'comments', parents: ['posts', 'users'] },
      { name: 'posts', parents: ['users'] },
      { name: 'users', parents: [] },
      { name: 'likes', parents: ['users'] },
    ]).map((t) => t.name);
    expect(order.indexOf('users')).toBeLessThan(order.indexOf('posts'));
    expect(order.indexOf('posts')).toBeLessThan(order.indexOf('comments'));
    expect(() => parentsFirst([{ name: 'a', parents: ['b'] }, { name: 'b', parents: ['a'] }])).toThrow(/cycle: a → b → a/);
  });

  it('names a site\'s schema from its name: readable, and never longer than PostgreSQL allows', () => {
    expect(defaultSchemaFor({ host: 'alice.example.com', port: 443 })).toBe('site_alice_example_com');
    expect(defaultSchemaFor({ host: '127.0.0.1', port: 4000 })).toBe('site_127_0_0_1_4000');
    const long = defaultSchemaFor({ host: `${'a'.repeat(60)}.example.com`, port: 443 });
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).not.toBe(defaultSchemaFor({ host: `${'a'.repeat(60)}.example.org`, port: 443 }));
  });
});
