import { CLOCK_CODES, HearthError } from '@hearth/protocol';
import type { AckResult } from './link.js';
import type { InboxResult } from './inbox.js';

/** The ack a link sends for an envelope the inbox took (or had already). */
export function ackForResult(result: InboxResult): AckResult {
  return result.status === 'accepted'
    ? { ok: true, ...(result.results ? { results: result.results } : {}) }
    : { ok: false, code: 'duplicate_envelope', message: 'already received', retryable: false };
}

/**
 * The ack for an envelope the inbox refused: its code and message, whether sending it again can
 * help (by the code, or any 5xx), this site's time for a clock refusal (so the sender can tell
 * whose clock is off), and how long to wait when the refusal says. Anything that is not a
 * HearthError is an internal error, said without detail.
 */
export function ackForError(error: unknown, now: number): AckResult {
  if (error instanceof HearthError) {
    const clock = CLOCK_CODES.has(error.code) ? { time: new Date(now).toISOString() } : {};
    const wait = (error as { retryAfterMs?: number }).retryAfterMs;
    return { ok: false, code: error.code, message: error.message, retryable: error.retryable || error.status >= 500, ...clock, ...(typeof wait === 'number' ? { retryAfterMs: Math.ceil(wait) } : {}) };
  }
  return { ok: false, code: 'internal', message: 'internal error', retryable: true };
}
