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

/** A sender asks about an envelope a relay holds at least this often while the envelope is young. */
export const CUSTODY_RECHECK_MIN_MS = 30_000;

/**
 * How soon a sender tries again an envelope that a relay took into its own outbox (`relay_queued`).
 * The relay passes it on by itself, so trying again mostly learns the destination's ack (or
 * finds the relay lost it). Each such answer costs the relay's whole forward wait, so a run of
 * them says little about the destination: the plain backoff would grow past minutes while the
 * relay delivers in seconds. The delay is the plain one, but never more than a tenth of the
 * envelope's age (at least 30 s), with jitter: over a week this asks about as often as the plain
 * policy does (about 1.25 times), and a young envelope settles within half a minute of its
 * delivery.
 */
export function custodyRecheckDelay(
  attempt: number,
  ageMs: number,
  random: () => number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): number | null {
  const plain = nextRetryDelay(attempt, ageMs, random, policy);
  if (plain === null) return null;
  const cap = Math.max(CUSTODY_RECHECK_MIN_MS, ageMs / 10);
  return Math.round(Math.min(plain, cap / 2 + random() * (cap / 2)));
}
