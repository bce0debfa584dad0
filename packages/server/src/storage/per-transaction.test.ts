import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { firstInTransaction, perTransaction } from './per-transaction.js';
import type { Database } from './schema.js';

// Stand-ins for Kysely executors: perTransaction only asks whether one is a transaction.
const executor = (isTransaction: boolean) => ({ isTransaction }) as unknown as Kysely<Database>;

describe('an answer kept for the rest of a transaction', () => {
  it('is read once per transaction and key, and every time outside a transaction', async () => {
    const reads: string[] = [];
    const lookUp = perTransaction((v: { user: string }) => v.user, async (_db, v: { user: string }) => {
      reads.push(v.user);
      return `${v.user}:${reads.length}`;
    });
    const [first, second, plain] = [executor(true), executor(true), executor(false)];
    expect(await lookUp(first, { user: 'alice' })).toBe('alice:1');
    expect(await lookUp(first, { user: 'alice' })).toBe('alice:1');
    expect(await lookUp(first, { user: 'bob' })).toBe('bob:2');
    // Another transaction reads again: what the first one read may have changed since.
    expect(await lookUp(second, { user: 'alice' })).toBe('alice:3');
    expect(await lookUp(plain, { user: 'alice' })).toBe('alice:4');
    expect(await lookUp(plain, { user: 'alice' })).toBe('alice:5');
    expect(reads).toEqual(['alice', 'bob', 'alice', 'alice', 'alice']);
  });

  it('does not keep a failed read', async () => {
    let calls = 0;
    const lookUp = perTransaction((v: { user: string }) => v.user, async () => {
      calls++;
      if (calls === 1) throw new Error('disk I/O error');
      return 'ok';
    });
    const trx = executor(true);
    await expect(lookUp(trx, { user: 'alice' })).rejects.toThrow('disk I/O error');
    expect(await lookUp(trx, { user: 'alice' })).toBe('ok');
    expect(calls).toBe(2);
  });

  it('says first once per transaction and key, and always outside a transaction', () => {
    const first = firstInTransaction();
    const [one, two, plain] = [executor(true), executor(true), executor(false)];
    expect([first(one, 'bob'), first(one, 'bob'), first(one, 'carol'), first(one, 'bob')]).toEqual([true, false, true, false]);
    expect([first(two, 'bob'), first(two, 'bob')]).toEqual([true, false]);
    expect([first(plain, 'bob'), first(plain, 'bob')]).toEqual([true, true]);
  });
});
