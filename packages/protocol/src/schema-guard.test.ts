import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { API } from './api-contract.js';
import { createEnvelope, validateEnvelope } from './envelope.js';
import { nobleSigner } from './keys.js';
import { LinkFrameSchema } from './link.js';
import { MESSAGE_SCHEMAS } from './messages.js';
import { fastSafeParse, schemaGuard } from './schema-guard.js';
import { VaultClientFrameSchema, VaultServerFrameSchema } from './vault.js';
import dmVector from '../test-vectors/dm.json' with { type: 'json' };
import signatureVector from '../test-vectors/envelope-signature.json' with { type: 'json' };

type Schema = z.ZodType;
type Def = Record<string, any>;
const defOf = (schema: Schema): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** What zod's answer says a guard must answer: yes exactly when zod accepts and gives the value back unchanged. */
const zodKeepsAsIs = (schema: Schema, value: unknown) => {
  const result = schema.safeParse(value);
  return result.success && isDeepStrictEqual(result.data, value);
};

/** Gives `object` an own enumerable key, as JSON.parse does even for `__proto__`. */
const withKey = (object: object, key: string, value: unknown) => {
  const copy = { ...object };
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
};

const anyValue = fc.oneof(fc.constant(null), fc.constant(undefined), fc.integer(), fc.double(), fc.string({ maxLength: 4 }), fc.boolean(), fc.constant([]), fc.constant({}));
const isoTime = fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
const around = (...bounds: Array<number | undefined>) => bounds.filter((n): n is number => n !== undefined).flatMap((n) => [n - 1, n, n + 1]).filter((n) => n >= 0 && n <= 200_000);

/**
 * Values near a schema: mostly what it describes (strings near its length bounds and matching its
 * patterns, numbers at its bounds, objects with and without optional and unknown keys), with a
 * wrong type anywhere now and then. Enough of them are accepted for both answers to be tested.
 */
function near(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 8) return anyValue;
  return fc.oneof({ arbitrary: shaped(schema, depth), weight: 40 }, { arbitrary: anyValue, weight: 1 });
}

function shaped(schema: Schema, depth: number): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  const checks: Def[] = (def.checks ?? []).map((check: { _zod: { def: Def } }) => check._zod.def);
  const bound = (kind: string, field: string) => checks.find((c) => c.check === kind)?.[field] as number | undefined;
  const sizes = around(bound('max_length', 'maximum'), bound('min_length', 'minimum'), bound('length_equals', 'length'));
  switch (def.type) {
    case 'string': {
      const pattern = def.pattern ?? checks.find((c) => c.check === 'string_format' && c.format === 'regex')?.pattern;
      const refined = checks.some((c) => c.check === 'custom');
      const options: Array<fc.WeightedArbitrary<unknown>> = [
        { arbitrary: fc.string({ maxLength: 6 }), weight: pattern || refined ? 1 : 8 },
        { arbitrary: isoTime, weight: refined ? 16 : 1 },
        { arbitrary: fc.uuid({ version: [4, 7] }), weight: 1 },
      ];
      if (pattern) options.push({ arbitrary: fc.stringMatching(pattern), weight: 16 });
      if (sizes.length) options.push({ arbitrary: fc.tuple(fc.constantFrom(...sizes), fc.constantFrom('a', 'Z', '-', 'é', ' ', '0')).map(([n, c]) => c.repeat(n)), weight: 2 });
      return fc.oneof(...options);
    }
    case 'number': {
      const values = checks.flatMap((c) => (typeof c.value === 'number' ? around(c.value).concat([c.value - 0.5, -c.value]) : []));
      return fc.oneof({ arbitrary: fc.integer({ min: 1, max: 20 }), weight: 8 }, { arbitrary: fc.integer({ min: -3, max: 70_000 }), weight: 2 }, { arbitrary: fc.double(), weight: 1 }, { arbitrary: fc.constantFrom(0, -0, 0.5, 2 ** 53, -(2 ** 53), ...values), weight: 2 });
    }
    case 'boolean':
      return fc.boolean();
    case 'literal':
    case 'enum': {
      const values = def.type === 'literal' ? (def.values as unknown[]) : Object.values(def.entries as Record<string, unknown>);
      return fc.oneof({ arbitrary: fc.constantFrom(...values), weight: 12 }, { arbitrary: fc.constantFrom('other', 1, null), weight: 1 });
    }
    case 'optional':
      return fc.option(near(def.innerType, depth + 1), { nil: undefined });
    case 'nullable':
      return fc.option(near(def.innerType, depth + 1), { nil: null });
    case 'nonoptional':
      return near(def.innerType, depth + 1);
    case 'unknown':
    case 'any':
      return fc.jsonValue({ maxDepth: 2 });
    case 'array': {
      const element = near(def.element, depth + 1);
      const options = [fc.array(element, { maxLength: 4 })];
      if (sizes.length) options.push(fc.tuple(fc.constantFrom(...sizes.filter((n) => n <= 2000)), element).map(([n, v]) => Array.from({ length: n }, () => v)));
      return fc.oneof(...options);
    }
    case 'record':
      return fc.tuple(fc.dictionary(fc.string({ maxLength: 4 }), near(def.valueType, depth + 1), { maxKeys: 3 }), fc.boolean()).map(([record, proto]) => (proto ? withKey(record, '__proto__', {}) : record));
    case 'union':
      return fc.oneof(...(def.options as Schema[]).map((option) => near(option, depth + 1)));
    case 'object': {
      const shape = def.shape as Record<string, Schema>;
      const model = Object.fromEntries(Object.entries(shape).map(([key, field]) => [key, near(field, depth + 1)]));
      const required = Object.keys(shape).filter((key) => (shape[key] as unknown as { _zod: { optin?: string } })._zod.optin !== 'optional');
      const object = fc.oneof({ arbitrary: fc.record(model, { requiredKeys: required }), weight: 6 }, { arbitrary: fc.record(model, { requiredKeys: [] }), weight: 1 });
      const extra = fc.oneof({ arbitrary: fc.constant(null), weight: 12 }, { arbitrary: fc.constantFrom('extra', '__proto__', 'constructor', 'toString'), weight: 1 });
      return fc.tuple(object, extra).map(([value, key]) => (key === null ? value : withKey(value, key, 1)));
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** The protocol's and the API's schemas that have a guard, by name. */
function guardedSchemas(): Array<[string, Schema]> {
  const all: Array<[string, Schema]> = [
    ...Object.entries(MESSAGE_SCHEMAS).map(([type, schema]) => [`message ${type}`, schema] as [string, Schema]),
    ['link frame', LinkFrameSchema],
    ['vault client frame', VaultClientFrameSchema],
    ['vault server frame', VaultServerFrameSchema],
  ];
  for (const [name, route] of Object.entries(API)) {
    for (const part of ['body', 'query', 'params', 'response'] as const) {
      const schema = (route as Record<string, unknown>)[part];
      if (schema) all.push([`${name} ${part}`, schema as Schema]);
    }
  }
  return all.filter(([, schema]) => schemaGuard(schema) !== undefined);
}

const site = { secretKey: signatureVector.siteKey.secretKey, publicKey: signatureVector.siteKey.publicKey };
const dmEnvelope = createEnvelope({ type: 'dm', from: { username: 'alice', host: 'alice.example', port: 443 }, to: { username: 'bob', host: 'bob.example', port: 8443 }, data: { message: dmVector.message } }, nobleSigner(site));

describe('schema guards', () => {
  it('answer as zod does for values near every guarded schema of the protocol and the API', () => {
    const schemas = guardedSchemas();
    // The hot paths must keep their guards: a schema change that loses one is slower, not wrong, and shows here.
    const names = schemas.map(([name]) => name);
    for (const name of ['message dm', 'message call.signal', 'message follow', 'message comment.create', 'message relay', 'link frame', 'vault client frame', 'vault server frame', 'sendDm body', 'sendDms body', 'sendDms response']) expect(names).toContain(name);
    let accepted = 0;
    let total = 0;
    for (const [name, schema] of schemas) {
      const guard = schemaGuard(schema)!;
      fc.assert(
        fc.property(near(schema), (value) => {
          const expected = zodKeepsAsIs(schema, value);
          if (guard(value) !== expected) throw new Error(`${name}: the guard says ${!expected} and zod ${expected} for ${JSON.stringify(value)?.slice(0, 400)}`);
          total++;
          if (expected) accepted++;
        }),
        { numRuns: 150 },
      );
    }
    // Both answers were tested, each many times.
    expect(accepted).toBeGreaterThan(total / 10);
    expect(total - accepted).toBeGreaterThan(total / 10);
  });

  it('answer as zod does for a real DM envelope with one part of it changed', () => {
    const shape = { ...dmEnvelope } as Record<string, unknown>;
    const paths: string[][] = [];
    const walk = (value: unknown, path: string[]) => {
      paths.push(path);
      if (value && typeof value === 'object') for (const [key, inner] of Object.entries(value)) walk(inner, [...path, key]);
    };
    walk(shape.data, []);
    const schema = MESSAGE_SCHEMAS.dm as Schema;
    expect(schemaGuard(schema)!(shape.data)).toBe(true);
    const change = fc.oneof(anyValue, fc.string({ maxLength: 100 }), fc.constantFrom('delete', 'extra', '__proto__', 'long', 'short'));
    fc.assert(
      fc.property(fc.constantFrom(...paths), change, (path, how) => {
        const data = structuredClone(shape.data) as Record<string, unknown>;
        if (path.length === 0) return;
        const parent = path.slice(0, -1).reduce<any>((node, key) => node[key], data);
        const key = path[path.length - 1]!;
        // Arrays with keys besides their items are not JSON; guards do not look for those keys.
        if ((how === 'extra' || how === '__proto__') && Array.isArray(parent)) return;
        if (how === 'delete') delete parent[key];
        else if (how === 'extra' || how === '__proto__') Object.defineProperty(parent, how === 'extra' ? 'extra' : '__proto__', { value: 'x', enumerable: true, writable: true, configurable: true });
        else if (how === 'long' && typeof parent[key] === 'string') parent[key] = `${parent[key]}A`;
        else if (how === 'short' && typeof parent[key] === 'string') parent[key] = (parent[key] as string).slice(1);
        else parent[key] = how;
        expect(schemaGuard(schema)!(data)).toBe(zodKeepsAsIs(schema, data));
      }),
      { numRuns: 1000 },
    );
  });

  it('let a valid envelope through as it came, and give zod errors for a bad one', () => {
    const parsed = JSON.parse(JSON.stringify(dmEnvelope));
    expect(validateEnvelope(parsed).data).toBe(parsed.data);
    const bad = { ...parsed, data: { message: { ...parsed.data.message, nonce: '!' } } };
    expect(() => validateEnvelope(bad)).toThrow(/message\.nonce: base64url/);
  });

  it('leave to zod the schemas they do not know, and what zod changes on the way', () => {
    const trimmed = z.strictObject({ name: z.string().trim() });
    expect(schemaGuard(trimmed)).toBeUndefined();
    expect(fastSafeParse(trimmed, { name: '  ann ' })).toEqual({ success: true, data: { name: 'ann' } });
    for (const schema of [z.string().default('x'), z.coerce.number(), z.url(), z.email(), z.number().int().pipe(z.number()), z.xor([z.string(), z.string().max(3)]), z.string().transform((s) => s.length)]) {
      expect(schemaGuard(schema)).toBeUndefined();
    }
    // An object that drops unknown keys: the guard says no, and zod drops them.
    const loose = z.object({ a: z.number() });
    expect(fastSafeParse(loose, { a: 1, b: 2 })).toEqual({ success: true, data: { a: 1 } });
    // A record's __proto__ key: zod leaves it out of its copy, so zod answers.
    const record = z.record(z.string(), z.number());
    const proto = withKey({ a: 1 }, '__proto__', 2);
    expect(schemaGuard(record)!(proto)).toBe(false);
    expect(fastSafeParse(record, proto)).toEqual({ success: true, data: { a: 1 } });
  });

  it('want a key that is not optional even when its schema takes anything', () => {
    expect(schemaGuard(LinkFrameSchema)!({ t: 'env' })).toBe(false);
    expect(LinkFrameSchema.safeParse({ t: 'env' }).success).toBe(false);
    expect(schemaGuard(LinkFrameSchema)!({ t: 'env', env: null })).toBe(true);
    const anything = z.strictObject({ a: z.unknown(), b: z.unknown().optional() });
    expect(schemaGuard(anything)!({})).toBe(false);
    expect(schemaGuard(anything)!({ a: undefined })).toBe(zodKeepsAsIs(anything, { a: undefined }));
  });

  it('never guard a schema that contains itself, and still parse with it', () => {
    const node = z.object({
      name: z.string(),
      get children(): z.ZodArray<typeof node> {
        return z.array(node);
      },
    });
    expect(schemaGuard(node)).toBeUndefined();
    expect(fastSafeParse(node, { name: 'a', children: [{ name: 'b', children: [] }] }).success).toBe(true);
  });

  it('call a refinement as zod does, and leave an asynchronous one to zod', () => {
    const even = z.number().refine((n) => n % 2 === 0);
    expect(schemaGuard(even)!(2)).toBe(true);
    expect(schemaGuard(even)!(3)).toBe(false);
    const later = z.string().refine(async () => true);
    expect(schemaGuard(later)!('x')).toBe(false);
    expect(() => fastSafeParse(later, 'x')).toThrow();
  });
});
