import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, nextRetryDelay } from './retry.js';

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
});
