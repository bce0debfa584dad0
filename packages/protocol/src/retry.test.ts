import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CUSTODY_RECHECK_MIN_MS, custodyRecheckDelay, DEFAULT_RETRY_POLICY, nextRetryDelay } from './retry.js';

describe('retry policy', () => {
  it('grows exponentially with jitter between half and all of the step, capped at an hour', () => {
    expect(nextRetryDelay(0, 0, () => 0)).toBe(500);
    expect(nextRetryDelay(0, 0, () => 1)).toBe(1000);
    expect(nextRetryDelay(3, 0, () => 1)).toBe(8000);
    expect(nextRetryDelay(40, 0, () => 1)).toBe(3_600_000);
  });

  it('keeps trying for 7 days, then gives up', () => {
    const week = DEFAULT_RETRY_POLICY.giveUpAfterMs;
    expect(nextRetryDelay(100, week - 1000, () => 1)).toBe(1000);
    expect(nextRetryDelay(100, week, () => 0.5)).toBeNull();
  });

  it('always returns a delay in bounds before the deadline', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.integer({ min: 0, max: DEFAULT_RETRY_POLICY.giveUpAfterMs - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, age, r) => {
        const delay = nextRetryDelay(attempt, age, () => r)!;
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.maxDelayMs);
        expect(age + delay).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.giveUpAfterMs);
      }),
    );
  });

  it('sums to at least 7 days of trying before the give-up', () => {
    let age = 0;
    let attempts = 0;
    for (let delay = nextRetryDelay(0, 0, () => 0); delay !== null; delay = nextRetryDelay(++attempts, age, () => 0)) age += delay;
    expect(age).toBeGreaterThanOrEqual(DEFAULT_RETRY_POLICY.giveUpAfterMs);
    expect(attempts).toBeGreaterThan(100);
  });

  describe('an envelope a relay holds (relay_queued)', () => {
    const count = (delayOf: typeof nextRetryDelay, r: number) => {
      let age = 0;
      let attempts = 0;
      for (let delay = delayOf(0, 0, () => r); delay !== null; delay = delayOf(++attempts, age, () => r)) age += delay;
      return attempts;
    };

    it('is asked about again within half a minute while young, however many answers came before', () => {
      expect(custodyRecheckDelay(12, 60_000, () => 1)).toBe(CUSTODY_RECHECK_MIN_MS);
      expect(custodyRecheckDelay(12, 60_000, () => 0)).toBe(CUSTODY_RECHECK_MIN_MS / 2);
      // Early on the plain backoff is shorter still, and is kept.
      expect(custodyRecheckDelay(2, 5_000, () => 1)).toBe(4000);
    });

    it('waits at most a tenth of its age, never past the plain delay, and gives up with it', () => {
      fc.assert(
        fc.property(fc.nat(1000), fc.integer({ min: 0, max: DEFAULT_RETRY_POLICY.giveUpAfterMs - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, age, r) => {
          const delay = custodyRecheckDelay(attempt, age, () => r)!;
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.max(CUSTODY_RECHECK_MIN_MS, age / 10) + 1);
          expect(delay).toBeLessThanOrEqual(nextRetryDelay(attempt, age, () => r)!);
        }),
      );
      expect(custodyRecheckDelay(3, DEFAULT_RETRY_POLICY.giveUpAfterMs, () => 0.5)).toBeNull();
    });

    it('asks over a week about as often as the plain policy tries, not a flood', () => {
      for (const r of [0, 0.5, 1]) {
        expect(count(custodyRecheckDelay, r)).toBeLessThan(count(nextRetryDelay, r) * 1.5);
      }
    });
  });
});
