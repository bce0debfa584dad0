import { describe, expect, it } from 'vitest';
import { LoginLimiter } from './login-limiter.js';

describe('login limiter', () => {
  it('allows maxFailures wrong passwords per key, then waits out the window', () => {
    const limiter = new LoginLimiter({ maxFailures: 3, windowMs: 1000, maxKeys: 100 });
    const keys = ['ip:1', 'user:alice'];
    for (let t = 0; t < 3; t++) {
      expect(limiter.retryAfter(keys, t)).toBe(0);
      limiter.recordFailure(keys, t);
    }
    expect(limiter.retryAfter(keys, 10)).toBe(990);
    expect(limiter.retryAfter(['ip:2', 'user:alice'], 10)).toBe(990); // another IP, same user: still limited
    expect(limiter.retryAfter(['ip:2', 'user:bob'], 10)).toBe(0);
    expect(limiter.retryAfter(keys, 999)).toBe(1);
    expect(limiter.retryAfter(keys, 1000)).toBe(0); // the failure at t=0 has left the window
  });
});
