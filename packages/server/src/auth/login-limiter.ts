/**
 * Failed-login limiter, pure apart from the clock it is given: at most `maxFailures` wrong
 * passwords per key (client IP, and separately per username) within `windowMs`. A success
 * does not reset the per-username count, so guessing from many addresses still stalls.
 */
export interface LoginLimiterOptions {
  maxFailures: number;
  windowMs: number;
  maxKeys: number;
}

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly options: LoginLimiterOptions = { maxFailures: 5, windowMs: 15 * 60_000, maxKeys: 100_000 }) {}

  /** Milliseconds until another attempt is allowed for any of these keys; 0 when allowed now. */
  retryAfter(keys: string[], now: number): number {
    let wait = 0;
    for (const key of keys) {
      const recent = this.recent(key, now);
      if (recent.length >= this.options.maxFailures) {
        wait = Math.max(wait, recent[0]! + this.options.windowMs - now);
      }
    }
    return wait;
  }

  recordFailure(keys: string[], now: number): void {
    if (this.failures.size > this.options.maxKeys) this.failures.clear();
    for (const key of keys) {
      const recent = this.recent(key, now);
      recent.push(now);
      this.failures.set(key, recent);
    }
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - this.options.windowMs);
  }
}
