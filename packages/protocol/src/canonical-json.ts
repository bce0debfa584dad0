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
  return serialize(value, 0);
}

const MAX_DEPTH = 64;

function serialize(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new CanonicalJsonError('value nests deeper than 64 levels');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError('non-finite numbers have no JSON form');
      return JSON.stringify(value);
    case 'string':
      if (hasLoneSurrogate(value)) throw new CanonicalJsonError('string holds a lone UTF-16 surrogate');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item) => serialize(item, depth + 1)).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('only plain objects have a JSON form');
      const entries: string[] = [];
      for (const key of Object.keys(value).sort()) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) throw new CanonicalJsonError(`property "${key}" is undefined`);
        if (hasLoneSurrogate(key)) throw new CanonicalJsonError('key holds a lone UTF-16 surrogate');
        entries.push(`${JSON.stringify(key)}:${serialize(item, depth + 1)}`);
      }
      return `{${entries.join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${typeof value} has no JSON form`);
  }
}


