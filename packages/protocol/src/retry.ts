/**
 * Delivery retry policy, pure: attempt number in, delay out (or null: give up).
 * Exponential from 1 s, capped at 1 h, with "equal jitter" so that a site coming back
 * after an outage is not hit by every peer in the same second. Gives up after 7 days.
 */
export interface RetryPolicy {
  baseMs: number;
  maxDelayMs: number;
  giveUpAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseMs: 1000,
  maxDelayMs: 60 * 60 * 1000,
  giveUpAfterMs: 7 * 24 * 60 * 60 * 1000,
};

export function nextRetryDelay(
  attempt: number,
  ageMs: number,
  random: () => number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): number | null {
  if (ageMs >= policy.giveUpAfterMs) return null;
  const exponential = Math.min(policy.maxDelayMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const delay = exponential / 2 + random() * (exponential / 2);
  return Math.round(Math.min(delay, policy.giveUpAfterMs - ageMs));
}
