import { z } from 'zod';

/**
 * Times on the wire have exactly one form: ISO 8601 UTC with milliseconds and `Z`, as
 * `Date.prototype.toISOString()` writes it (`2026-11-25T12:00:00.000Z`). One form means two
 * implementations never disagree about whether a time is valid or which of two is later.
 */
const EXACT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function isExactTime(text: string): boolean {
  if (!EXACT_TIME.test(text)) return false;
  const at = Date.parse(text);
  // Round-tripping refuses impossible dates (2026-02-30) that Date.parse would roll over.
  return Number.isFinite(at) && new Date(at).toISOString() === text;
}

export const ExactTimeSchema = z.string().refine(isExactTime, 'a time is ISO 8601 UTC with milliseconds, like 2026-11-25T12:00:00.000Z');

/**
 * How much later than its envelope's `ts` a post's or comment's `createdAt` may be: the two are
 * read from one clock, a moment apart, so this only absorbs a clock step between them. A post
 * can therefore never date itself into the future of the site that signed it.
 */
export const CREATED_AT_SLACK_MS = 60_000;
