/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the exact bytes every signature covers.
 * ECMAScript's own number and string serialisation is what JCS specifies, so the work
 * left is sorting object keys by UTF-16 code units and refusing what JSON cannot carry.
 * Written here (about 30 lines) rather than taken from a package so that non-JSON values
 * (undefined, NaN, functions, lone surrogates) are refused instead of silently dropped.
 */
import { hasLoneSurrogate } from './json-limits.js';

export class CanonicalJsonError extends TypeError {}

export function canonicalize(value: unknown): string {
  // Copied with each object's keys in canonical order, JSON.stringify writes the canonical text
  // in one native pass: it writes string keys in the order they were added, and escapes and
  // numbers as JCS asks. Only keys JavaScript itself reorders (array indices, which it puts
  // first in numeric order) and `__proto__` need the writer below, which sorts as it writes.
  // The copy is where what JSON cannot carry is refused.
  try {
    return JSON.stringify(orderedCopy(value, 0));
  } catch (error) {
    if (error !== KEY_OUT_OF_ORDER) throw error;
  }
  const parts: string[] = [];
  serialize(value, 0, parts);
  return parts.join('');
}

/** Thrown (never seen outside) when a key cannot keep its place in a JavaScript object. */
const KEY_OUT_OF_ORDER = Symbol('key out of order');

function orderedCopy(value: unknown, depth: number): unknown {
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
        for (let i = 0; i < value.length; i++) copy[i] = orderedCopy(value[i], depth + 1);
        return copy;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('only plain objects have a JSON form');
      const keys = sortedKeys(value);
      const copy: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const first = key.charCodeAt(0);
        // A key led by a digit may be an array index; checking exactly is not worth it (no
        // protocol key starts with one).
        if ((first >= 48 && first <= 57) || key === '__proto__') throw KEY_OUT_OF_ORDER;
        if (hasLoneSurrogate(key)) throw new CanonicalJsonError('string holds a lone UTF-16 surrogate');
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) throw new CanonicalJsonError(`property "${key}" is undefined`);
        copy[key] = orderedCopy(item, depth + 1);
      }
      return copy;
    }
    default:
      throw new CanonicalJsonError(`${typeof value} has no JSON form`);
  }
}

const MAX_DEPTH = 64;

function serialize(value: unknown, depth: number, out: string[]): void {
  if (depth > MAX_DEPTH) throw new CanonicalJsonError('value nests deeper than 64 levels');
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError('non-finite numbers have no JSON form');
      out.push(JSON.stringify(value));
      return;
    case 'string':
      pushString(value, out);
      return;
    case 'object': {
      if (Array.isArray(value)) {
        out.push('[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(',');
          serialize(value[i], depth + 1, out);
        }
        out.push(']');
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('only plain objects have a JSON form');
      out.push('{');
      const keys = sortedKeys(value);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) throw new CanonicalJsonError(`property "${key}" is undefined`);
        if (i > 0) out.push(',');
        pushString(key, out);
        out.push(':');
        serialize(item, depth + 1, out);
      }
      out.push('}');
      return;
    }
    default:
      throw new CanonicalJsonError(`${typeof value} has no JSON form`);
  }
}

/** Characters JSON must escape; a string without them (nearly every key, id and base64 text) is written as it is. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

function pushString(text: string, out: string[]): void {
  if (hasLoneSurrogate(text)) throw new CanonicalJsonError('string holds a lone UTF-16 surrogate');
  // JSON.stringify would copy the text; here the final join copies it once.
  if (NEEDS_ESCAPE.test(text)) out.push(JSON.stringify(text));
  else out.push('"', text, '"');
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
