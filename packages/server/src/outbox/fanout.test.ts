import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSigningKeyPair, nobleSigner, parseAddress, TYPES } from '@hearth/protocol';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { migrateToLatest, openSqlite } from '../storage/db.js';
import { addFanoutJob, FANOUT_INLINE, FANOUT_STEP, FanOut, firstPerSite, HEADS_WAIT_MS } from './fanout.js';

describe('firstPerSite', () => {
  it('takes the first follower of each site, in order, and leaves the rest', () => {
    const followers = ['a@one.example', 'b@two.example', 'c@one.example', 'd@two.example:8443', 'e@two.example'].map(parseAddress);
    const { first, rest } = firstPerSite(followers);
    expect(first.map((a) => `${a.username}@${a.host}:${a.port}`)).toEqual(['a@one.example:443', 'b@two.example:443', 'd@two.example:8443']);
    expect(rest.map((a) => a.username)).toEqual(['c', 'e']);
  });
});

describe('FanOut', () => {
  it("waits before a job's first step for the post's first envelopes to be acked, and not before the others", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-fanout-'));
    const db = openSqlite({ file: path.join(dir, 'hearth.db') });
    try {
      await migrateToLatest(db);
      const keys = generateSigningKeyPair();
      await db.insertInto('users').values({ username: 'alice', display_name: 'Alice', password_hash: 'x', site_secret_key: keys.secretKey, site_public_key: keys.publicKey, created_at: 0 }).execute();
      const followers = Array.from({ length: FANOUT_STEP + 500 }, (_, i) => ({ username: 'alice', follower: `f${String(i).padStart(5, '0')}@site${i % 10}.example`, created_at: 0 }));
      for (let i = 0; i < followers.length; i += 200) await db.insertInto('followers').values(followers.slice(i, i + 200)).execute();
      const waits: Array<[number, number]> = [];
      let ackHeads!: () => void;
      const fanout = new FanOut({
        db,
        site: { host: 'a.example', port: 443 },
        signerFor: async () => nobleSigner(keys),
        clock: () => Date.now(),
        queued: () => undefined,
        quiet: (maxMs, busyAbove) => {
          waits.push([maxMs, busyAbove]);
          return new Promise((resolve) => (ackHeads = resolve));
        },
        log: pino({ level: 'silent' }),
      });
      const post = { id: '01J0000000000000000000000A', text: 'hello', createdAt: new Date(0).toISOString() };
      await addFanoutJob(db, { username: 'alice', type: TYPES.postCreate, data: { post }, skip: [], now: 0 });
      const queued = async () => Number((await db.selectFrom('outbox').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      fanout.wake();
      await vi.waitFor(() => expect(waits).toHaveLength(1));
      expect(waits[0]).toEqual([HEADS_WAIT_MS, FANOUT_INLINE]);
      expect(await queued()).toBe(0); // nothing signed or queued while the heads are on their way
      ackHeads();
      await vi.waitFor(async () => expect(await queued()).toBe(followers.length), { timeout: 30_000 });
      await fanout.settled();
      expect(waits).toHaveLength(1); // the second step went on without waiting
      expect(await db.selectFrom('fanout_jobs').selectAll().execute()).toEqual([]);
    } finally {
      await db.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
