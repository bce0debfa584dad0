import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HearthError } from './errors.js';
import { parseLimitedJson, scanJson, utf8Length } from './json-limits.js';
import { isExactTime } from './time.js';

const limits = { maxBytes: 1 << 20, maxDepth: 64 };
const codeOf = (input: string | Uint8Array) => {
  try {
    parseLimitedJson(input, limits);
    return null;
  } catch (error) {
    return (error as HearthError).code;
  }
};
// JSON.stringify writes lone surrogates as \\uXXXX escapes; those are refused on purpose, so the
// round-trip property runs over well-formed Unicode.
const wellFormed = fc.jsonValue({ maxDepth: 6 }).filter((v) => !/[\uD800-\uDFFF]/.test(JSON.stringify(v).replace(/\\u[dD][89a-fA-F][0-9a-fA-F]{2}/g, '\uD800')));

describe('strict JSON', () => {
  it('accepts every well-formed JSON value, and finds no repeated key in it', () => {
    fc.assert(
      fc.property(wellFormed, (value) => {
        const text = JSON.stringify(value);
        expect(scanJson(text).duplicateKey).toBeNull();
        expect(parseLimitedJson(text, limits)).toEqual(JSON.parse(text));
      }),
    );
  });

  it('counts the keys and the depth of any JSON text, however its strings mix quotes and backslashes', () => {
    const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);
    const keysOf = (v: unknown): number => (v !== null && typeof v === 'object' ? (Array.isArray(v) ? 0 : Object.keys(v).length) + Object.values(v).reduce<number>((n, x) => n + keysOf(x), 0) : 0);
    // Strings made mostly of the characters a string's end is found by: quotes and backslashes.
    const tricky = fc.string({ unit: fc.constantFrom('"', '\\', 'a', '{', ':', ','), maxLength: 12 });
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, tricky, fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(tricky, tie('node'), { maxKeys: 3 })),
    })).node;
    fc.assert(
      fc.property(fc.oneof(value, wellFormed), (v) => {
        const text = JSON.stringify(v);
        const scan = scanJson(text);
        expect(scan).toEqual({ depth: depthOf(v), keys: keysOf(v), duplicateKey: null });
        expect(scanJson(text, false).keys).toBe(keysOf(v));
      }),
    );
  });

  it('counts the UTF-8 bytes of any well-formed text, ASCII or not', () => {
    const encoder = new TextEncoder();
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string(), fc.string({ unit: fc.constantFrom('a', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '\u{10000}', '\u{10ffff}') }));
    fc.assert(
      fc.property(text, (s) => {
        expect(utf8Length(s)).toBe(encoder.encode(s).length);
      }),
    );
  });

  it('refuses an object that repeats a key, at any depth and however the key is escaped', () => {
    expect(codeOf('{"a":1,"a":2}')).toBe('invalid_json');
    expect(codeOf('{"a":1,"\\u0061":2}')).toBe('invalid_json');
    expect(codeOf('[{"x":{"b":[1,{"c":1}],"b":2}}]')).toBe('invalid_json');
    expect(codeOf('{"a":{"a":1},"b":{"a":1}}')).toBeNull();
    expect(codeOf('[{"a":1},{"a":2}]')).toBeNull();
    expect(codeOf('{"a":"\\",\\"a\\":1"}')).toBeNull(); // a key-like text inside a string value
  });

  it('refuses a repeated key wherever it nests, among any other members', () => {
    const member = fc.tuple(fc.string(), wellFormed).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    fc.assert(
      fc.property(fc.string(), wellFormed, wellFormed, fc.array(member, { maxLength: 3 }), fc.array(fc.boolean(), { maxLength: 5 }), (key, a, b, others, wraps) => {
        let text = `{${[...others, `${JSON.stringify(key)}:${JSON.stringify(a)}`, `${JSON.stringify(key)}:${JSON.stringify(b)}`].join(',')}}`;
        for (const inArray of wraps) text = inArray ? `[1,${text}]` : `{"w":${text}}`;
        expect(codeOf(text)).toBe('invalid_json');
        expect(scanJson(text).duplicateKey).not.toBeNull();
      }),
    );
  });

  it('refuses lone surrogates and invalid UTF-8, and keeps real pairs', () => {
    expect(codeOf('{"t":"\\ud800"}')).toBe('invalid_json');
    expect(codeOf('{"t":"x\\udc00"}')).toBe('invalid_json');
    expect(codeOf('{"\\ud800":1}')).toBe('invalid_json');
    expect(codeOf('{"t":"\\ud83d\\ude00"}')).toBeNull();
    expect(codeOf(new Uint8Array([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]))).toBe('invalid_json');
    expect(codeOf(new TextEncoder().encode('{"t":"café ☕"}'))).toBeNull();
    expect(codeOf('{"t":"\\uD800"}')).toBe('invalid_json');
    expect(codeOf('{"t":"\\\\ud800"}')).toBeNull(); // an escaped backslash, then the letters "ud800"
  });

  it('refuses a string exactly when it holds a lone surrogate, written raw or escaped', () => {
    const lone = (text: string) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
    const nearSurrogates = fc.array(fc.integer({ min: 0xd7f0, max: 0xe010 }), { maxLength: 6 }).map((units) => String.fromCharCode(...units));
    fc.assert(
      fc.property(nearSurrogates, fc.boolean(), (text, raw) => {
        // JSON.stringify escapes lone surrogates and leaves pairs raw; `raw` puts every unit in as it is.
        const json = raw ? `{"t":"${text}"}` : JSON.stringify({ t: text });
        expect(codeOf(json)).toBe(lone(text) ? 'invalid_json' : null);
      }),
    );
  });

  it('has one form for times', () => {
    expect(isExactTime('2026-11-25T12:00:00.000Z')).toBe(true);
    for (const t of ['2026-11-25T12:00:00Z', '2026-11-25T12:00:00.0000Z', '2026-11-25T13:00:00.000+01:00', '2026-02-30T12:00:00.000Z', '2026-11-25 12:00:00.000Z', '+02026-11-25T12:00:00.000Z']) {
      expect({ t, ok: isExactTime(t) }).toEqual({ t, ok: false });
    }
  });

  it('takes a time exactly when Date writes it back unchanged', () => {
    const pad = (n: number, width: number) => String(n).padStart(width, '0');
    const roundTrips = (t: string) => {
      const at = Date.parse(t);
      return Number.isFinite(at) && new Date(at).toISOString() === t;
    };
    const field = (max: number) => fc.integer({ min: 0, max });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), field(13), field(32), field(25), field(61), field(61), field(999), (y, mo, d, h, mi, s, ms) => {
        const t = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(ms, 3)}Z`;
        expect({ t, ok: isExactTime(t) }).toEqual({ t, ok: roundTrips(t) });
      }),
      { numRuns: 5000 },
    );
    for (const t of ['2024-02-29T00:00:00.000Z', '2000-02-29T23:59:59.999Z', '1900-02-29T00:00:00.000Z', '2023-02-29T00:00:00.000Z', '0000-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z', '2026-12-31T24:00:00.000Z']) {
      expect({ t, ok: isExactTime(t) }).toEqual({ t, ok: roundTrips(t) });
    }
  });
});
