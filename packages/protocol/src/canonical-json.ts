/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the exact bytes every signature covers.
 * ECMAScript's own number and string serialisation is what JCS specifies, so the work
 * left is sorting object keys by UTF-16 code units and refusing what JSON cannot carry.
 * Written here (about 60 lines) rather than taken from a package so that non-JSON values
 * (undefined, NaN, functions, lone surrogates) are refused instead of silently dropped.
 */
import { hasLoneSurrogate } from './json-limits.js';

export class CanonicalJsonError extends TypeError {}

export function canonicalize(value: unknown): string {
  // Copied with each object's keys in canonical order, JSON.stringify writes the canonical text
  // in one native pass: it writes string keys in the order they were added, and escapes and
  // numbers as JCS asks. Only keys JavaScript itself reorders (array indices, which it puts
  // first in numeric order) and `__proto__` cannot keep their place in an object: then the
  // copy holds each object's members as a sorted list, and writeMembers writes it out.
  // The copy is where what JSON cannot carry is refused.
  try {
    return JSON.stringify(checkedCopy(value, 0, false));
  } catch (error) {
    if (error !== KEY_OUT_OF_ORDER) throw error;
  }
  return writeMembers(checkedCopy(value, 0, true));
}

/** Thrown (never seen outside) when a key cannot keep its place in a JavaScript object. */
const KEY_OUT_OF_ORDER = Symbol('key out of order');

/** An object's members in canonical order, for the keys an object would reorder. */
class SortedMembers {
  constructor(readonly members: Array<[string, unknown]>) {}
}

const MAX_DEPTH = 64;

/**
 * A copy of `value` that JSON can carry, each object's keys in canonical order; what JSON cannot
 * carry is refused. With `asMembers`, objects become SortedMembers instead.
 */
function checkedCopy(value: unknown, depth: number, asMembers: boolean): unknown {
  if (depth > MAX_DEPTH) throw new CanonicalJsonError('value nests deeper than 64 levels');
  if (value === null) return null;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError('non-finite numbers have no JSON form');
      return value;
    case 'string':
      if (hasLoneSurrogate(value)) throw new CanonicalJsonError('string holds a lone UTF-16 surrogate');
      return value;
    case 'object': {
      if (Array.isArray(value)) {
        const copy = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i++) copy[i] = checkedCopy(value[i], depth + 1, asMembers);
        return copy;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('only plain objects have a JSON form');
      const keys = sortedKeys(value);
      const copy: Record<string, unknown> = {};
      // Only made on the rare path: the common one allocates nothing it does not return.
      const members: Array<[string, unknown]> | undefined = asMembers ? [] : undefined;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const first = key.charCodeAt(0);
        // A key led by a digit may be an array index; checking exactly is not worth it (no
        // protocol key starts with one).
        if (!asMembers && ((first >= 48 && first <= 57) || key === '__proto__')) throw KEY_OUT_OF_ORDER;
        if (hasLoneSurrogate(key)) throw new CanonicalJsonError('string holds a lone UTF-16 surrogate');
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) throw new CanonicalJsonError(`property "${key}" is undefined`);
        if (members) members.push([key, checkedCopy(item, depth + 1, true)]);
        else copy[key] = checkedCopy(item, depth + 1, false);
      }
      return members ? new SortedMembers(members) : copy;
    }
    default:
      throw new CanonicalJsonError(`${typeof value} has no JSON form`);
  }
}

/** Canonical text of a checked copy made with `asMembers` (the rare value with index-like keys). */
function writeMembers(value: unknown): string {
  if (value instanceof SortedMembers) return `{${value.members.map(([key, item]) => `${JSON.stringify(key)}:${writeMembers(item)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(writeMembers).join(',')}]`;
  return JSON.stringify(value);
}

/**
 * An object's keys in UTF-16 code unit order (JCS §3.2.3, which is what `<` compares). Objects
 * here have a handful of keys; an insertion sort in place does not allocate, where
 * Array.prototype.sort took a third of canonicalization's garbage.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}
