import { describe, expect, it } from 'vitest';
import { RelayLimiter } from './limits.js';

describe('relay limits per friend', () => {
  it('lets a minute of envelopes through at once, then one per refill, and says how long to wait', () => {
    const limiter = new RelayLimiter();
    const limits = { perMinute: 6, bytesPerDay: 1_000_000 };
    for (let i = 0; i < 6; i++) expect(limiter.take('alice', limits, 10, 0)).toBe(0);
    expect(limiter.take('alice', limits, 10, 0)).toBe(10_000);
    expect(limiter.take('bob', limits, 10, 0)).toBe(0); // another friend is not touched
    expect(limiter.take('alice', limits, 10, 10_000)).toBe(0);
    expect(limiter.take('alice', limits, 10, 10_000)).toBeGreaterThan(0);
  });

  it('stops a friend at their daily volume until the next UTC day', () => {
    const limiter = new RelayLimiter();
    const limits = { perMinute: 1000, bytesPerDay: 100 };
    const noon = Date.parse('2026-11-29T12:00:00Z');
    expect(limiter.take('alice', limits, 60, noon, 30)).toBe(0);
    expect(limiter.take('alice', limits, 20, noon)).toBe(12 * 60 * 60 * 1000);
    expect(limiter.take('alice', limits, 20, Date.parse('2026-11-30T00:00:01Z'))).toBe(0);
  });

  it('counts a tunnel\'s bytes against the same daily volume, without taking envelopes', () => {
    const limiter = new RelayLimiter();
    const limits = { perMinute: 1, bytesPerDay: 100 };
    const noon = Date.parse('2026-11-29T12:00:00Z');
    expect(limiter.take('alice', limits, 0, noon)).toBe(0);
    expect(limiter.spend('alice', limits, 90, noon)).toBe(true);
    expect(limiter.spend('alice', limits, 20, noon)).toBe(false);
    expect(limiter.spend('alice', limits, 10, noon)).toBe(true);
    expect(limiter.take('alice', limits, 1, noon + 60_000)).toBe(12 * 60 * 60 * 1000 - 60_000);
    expect(limiter.spend('alice', limits, 100, Date.parse('2026-11-30T00:00:01Z'))).toBe(true);
  });
});
