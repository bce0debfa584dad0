/**
 * Per-friend limits at a relay, pure and in memory: a token bucket for the rate (envelopes per
 * minute, bursts up to a minute's worth) and a byte count per UTC day for the volume. A friend
 * past either waits; other friends are not touched.
 */
export interface FriendLimits {
  perMinute: number;
  bytesPerDay: number;
}

interface State {
  tokens: number;
  refilledAt: number;
  day: string;
  bytes: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

export class RelayLimiter {
  private readonly state = new Map<string, State>();

  constructor(private readonly maxKeys = 10_000) {}

  /**
   * Takes one envelope of `bytes` for `key` now: 0 when it may go, else how many ms until it may.
   * `bytesToday` is what storage says was relayed today, for a key not seen since the start.
   */
  take(key: string, limits: FriendLimits, bytes: number, now: number, bytesToday = 0): number {
    const s = this.stateOf(key, limits, now, bytesToday);
    s.tokens = Math.min(limits.perMinute, s.tokens + ((now - s.refilledAt) * limits.perMinute) / 60_000);
    s.refilledAt = now;
    if (s.bytes + bytes > limits.bytesPerDay) return DAY_MS - (now % DAY_MS);
    if (s.tokens < 1) return Math.ceil(((1 - s.tokens) * 60_000) / limits.perMinute);
    s.tokens -= 1;
    s.bytes += bytes;
    return 0;
  }

  /** Adds `bytes` to today's volume (a vault tunnel's traffic, which has no envelopes): false, and nothing added, past the day's limit. */
  spend(key: string, limits: FriendLimits, bytes: number, now: number): boolean {
    const s = this.stateOf(key, limits, now, 0);
    if (s.bytes + bytes > limits.bytesPerDay) return false;
    s.bytes += bytes;
    return true;
  }

  private stateOf(key: string, limits: FriendLimits, now: number, bytesToday: number): State {
    const day = utcDay(now);
    let s = this.state.get(key);
    if (!s) {
      if (this.state.size >= this.maxKeys) this.state.delete(this.state.keys().next().value!);
      s = { tokens: limits.perMinute, refilledAt: now, day, bytes: bytesToday };
      this.state.set(key, s);
    }
    if (s.day !== day) {
      s.day = day;
      s.bytes = 0;
    }
    return s;
  }

  /** Forgets a friend (removed from the list): a friend added again starts fresh. */
  forget(key: string): void {
    this.state.delete(key);
  }
}
