import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../../../tests/helpers/scratch.js';
import { migrateToLatest, openSqlite } from '../storage/db.js';
import { RelayPaths } from './paths.js';

const dir = scratchDir('paths');

describe('the path to a site', () => {
  it('goes to the relays first from the first failure of the direct path until its probe is due, and direct again once it works', async () => {
    const db = openSqlite({ file: path.join(dir, 'paths.db') });
    try {
      await migrateToLatest(db);
      let clock = 1_000_000;
      // random() = 0: the shortest delay of each step (half of 30 s, 60 s...).
      const paths = () => new RelayPaths({ db, clock: () => clock, now: () => clock, random: () => 0 });
      const bob = { host: 'bob.example', port: 443 };
      const first = paths();
      expect(await first.relayFirst(bob)).toBe(false);

      // The dial failed: the relays come first at once, before any relay has taken anything.
      await first.directFailed(bob);
      expect(await first.relayFirst(bob)).toBe(true);
      expect((await first.get(bob))?.via).toBeNull();
      clock += 14_999;
      expect(await first.relayFirst(bob)).toBe(true);
      // The probe is due: the direct path is tried again.
      clock += 1;
      expect(await first.relayFirst(bob)).toBe(false);

      // It failed again: the next probe waits twice as long. A relay took envelopes meanwhile.
      await first.directFailed(bob);
      await first.usingRelay(bob, 'carol@carol.example:443');
      clock += 29_999;
      // Remembered across a restart.
      const again = paths();
      expect(await again.relayFirst(bob)).toBe(true);
      expect((await again.get(bob))?.via).toBe('carol@carol.example:443');
      clock += 1;
      expect(await again.relayFirst(bob)).toBe(false);

      // The direct path works: direct from now on.
      await again.directFailed(bob);
      expect(await again.relayFirst(bob)).toBe(true);
      await again.direct(bob);
      expect(await again.relayFirst(bob)).toBe(false);
      expect(await again.get(bob)).toMatchObject({ via: null, directFailures: 0 });
      // Another site is not affected by any of this.
      expect(await again.relayFirst({ host: 'dave.example', port: 443 })).toBe(false);
    } finally {
      await db.destroy();
    }
  });
});
