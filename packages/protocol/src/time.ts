import { z } from 'zod';

/**
 * Times on the wire have exactly one form: ISO 8601 UTC with milliseconds and `Z`, as
 * `Date.prototype.toISOString()` writes it (`2026-11-25T12:00:00.000Z`). One form means two
 * implementations never disagree about whether a time is valid or which of two is later.
 */
const EXACT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Whether `text` is a time in that form, and a real one: what `new Date(Date.parse(text))
 * .toISOString() === text` says (no 2026-02-30, no 24:00), read from the digits instead of
 * through two Dates and a string. Every envelope's time and every post's and comment's go through
 * here on the way in.
 */
export function isExactTime(text: string): boolean {
  if (!EXACT_TIME.test(text)) return false;
  const digit = (at: number) => text.charCodeAt(at) - 48;
  const two = (at: number) => digit(at) * 10 + digit(at + 1);
  const year = two(0) * 100 + two(2);
  const month = two(5);
  const day = two(8);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false;
  return two(11) <= 23 && two(14) <= 59 && two(17) <= 59;
}

/** Days in a month of the proleptic Gregorian calendar, which Date uses for every year. */
function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

export const ExactTimeSchema = z.string().refine(isExactTime, 'a time is ISO 8601 UTC with milliseconds, like 2026-11-25T12:00:00.000Z');

/**
 * How much later than its envelope's `ts` a post's or comment's `createdAt` may be: the two are
 * read from one clock, a moment apart, so this only absorbs a clock step between them. A post
 * can therefore never date itself into the future of the site that signed it.
 */
export const CREATED_AT_SLACK_MS = 60_000;
