import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, CanonicalJsonError } from './canonical-json.js';

const vectors = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../test-vectors/canonical-json.json'), 'utf8')) as {
  cases: Array<{ name: string; input: string; canonical: string }>;
};

describe('canonical JSON (RFC 8785)', () => {
  it.each(vectors.cases)('$name', ({ input, canonical }) => {
    expect(canonicalize(JSON.parse(input))).toBe(canonical);
  });

  it('is a fixed point: canonicalizing canonical JSON changes nothing', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const once = canonicalize(value);
        expect(canonicalize(JSON.parse(once))).toBe(once);
      }),
    );
  });

  it('ignores key order and preserves the value', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        expect(canonicalize(reversed)).toBe(canonicalize(object));
        expect(JSON.parse(canonicalize(object))).toEqual(JSON.parse(JSON.stringify(object)));
      }),
    );
  });

  it('writes what sorting the keys and JSON.stringify write (escapes, Unicode, numbers)', () => {
    // Written out member by member: an object rebuilt with sorted keys would not keep that order
    // for integer-like keys ("10" sorts before "9", JavaScript lists 9 first), about once in
    // 10,000 generated values.
    const sorted = (value: unknown): string =>
      Array.isArray(value)
        ? `[${value.map(sorted).join(',')}]`
        : value !== null && typeof value === 'object'
          ? `{${Object.keys(value)
              .sort()
              .map((k) => `${JSON.stringify(k)}:${sorted((value as Record<string, unknown>)[k])}`)
              .join(',')}}`
          : JSON.stringify(value);
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'grapheme' }), (value) => {
        expect(canonicalize(value)).toBe(sorted(value));
      }),
    );
    const tricky = { 'b"q': 'say "hi"\\ \n\t\u0001 é 😀', a: ['\u001f', '\u007f', 'plain'], Z: { '': 0, é: -0, e: 1e21, d: 0.1, '10': 1, '9': 2 } };
    expect(canonicalize(tricky)).toBe(sorted(tricky));
  });

  it('sorts keys JavaScript keeps in its own order: array indices and __proto__', () => {
    // JavaScript lists integer-like keys first, in numeric order; JCS sorts them as text.
    const value = JSON.parse('{"b":1,"10":2,"9":3,"!":4,"__proto__":{"z":0,"0":1},"a":[{"2":0,"1x":1}]}');
    expect(canonicalize(value)).toBe('{"!":4,"10":2,"9":3,"__proto__":{"0":1,"z":0},"a":[{"1x":1,"2":0}],"b":1}');
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['undefined member', { a: undefined }],
    ['a function', () => 1],
    ['a Date', new Date(0)],
    ['a lone surrogate', '\ud800'],
    ['a bigint', 1n],
  ])('refuses %s', (_name, value) => {
    expect(() => canonicalize(value)).toThrow(CanonicalJsonError);
  });
});
