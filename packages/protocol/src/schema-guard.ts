import type { z } from 'zod';

/**
 * zod's answer for values it accepts as they are, without zod's work.
 *
 * zod's `safeParse` builds a new copy of every object and array it accepts, and a result object
 * for every field along the way: on a site taking in DMs that was a fifth of its garbage (7 KB
 * for each 1.4 KB envelope) and 6% of its CPU before the garbage. Most of what a site parses
 * (envelopes, link frames, request bodies) already has exactly the schema's shape, so zod's copy
 * would equal the input. A guard, built once per schema from zod's own description of it
 * (`schema._zod.def`), answers whether zod would accept a value and give it back unchanged; when
 * it says yes the input is the result, and otherwise zod runs as before: its errors, its
 * stripping of unknown keys, and anything the guard does not know stay zod's.
 *
 * So a guard may say no where zod says yes (zod then answers), never yes where zod says no or
 * would give back something else, for any value JSON could hold (an array with properties of
 * its own besides its items is not one: zod's copy drops them, and a guard does not look). It
 * is built only from what it knows exactly: strings (lengths, regexes, UUIDs), numbers (finite,
 * safe integers, bounds), booleans, literals, enums, arrays, objects, string-keyed records,
 * optional, nullable, unknown, and refinements (the refinement's own function is called). A
 * schema with anything else (transforms, defaults, coercion, other formats) gets no guard and
 * is always parsed by zod. The property tests in schema-guard.test.ts hold every schema of the
 * protocol and the API to zod's answers.
 */
export function fastSafeParse<S extends z.ZodType>(schema: S, value: unknown): z.ZodSafeParseResult<z.output<S>> {
  const guard = schemaGuard(schema);
  if (guard !== undefined && guard(value)) return { success: true, data: value as z.output<S> };
  return schema.safeParse(value);
}

/** Whether zod accepts a value and gives it back equal to itself; see fastSafeParse. */
export type Guard = (value: unknown) => boolean;

const guards = new WeakMap<object, Guard | null>();

/** The schema's guard, built on first use and kept; undefined when the schema has parts a guard does not know. */
export function schemaGuard(schema: z.ZodType): Guard | undefined {
  let guard = guards.get(schema);
  if (guard === undefined) {
    // None while it is built: a schema that contains itself (through a getter) gets no guard.
    guards.set(schema, null);
    guard = build(schema) ?? null;
    guards.set(schema, guard);
  }
  return guard ?? undefined;
}

// zod's definitions, as much of them as the guards read (zod/v4/core schemas.ts and checks.ts).
interface Def {
  type: string;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  coerce?: boolean;
  format?: string;
  pattern?: RegExp;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  innerType?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  mode?: string;
  values?: unknown[];
  entries?: Record<string, unknown>;
  options?: z.ZodType[];
  inclusive?: boolean;
  discriminator?: string;
  unionFallback?: boolean;
}

interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  maximum?: number;
  minimum?: number;
  length?: number;
  value?: unknown;
  inclusive?: boolean;
  fn?: (value: unknown) => unknown;
  when?: unknown;
}

const defOf = (schema: z.ZodType | undefined): Def | undefined => (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** String formats whose check is their pattern and nothing else. */
const PATTERN_FORMATS = new Set(['uuid', 'guid']);

/** An object as JSON.parse and object literals make them: zod's copy of one without a prototype would have one. */
const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/** A regex check as zod runs it: a global or sticky pattern carries state from one test to the next, so none. */
const patternTest = (pattern: unknown): ((text: string) => boolean) | undefined => {
  if (!(pattern instanceof RegExp) || pattern.global || pattern.sticky) return undefined;
  return (text) => pattern.test(text);
};

function build(schema: z.ZodType): Guard | undefined {
  const def = defOf(schema);
  if (def === undefined || def.coerce) return undefined;
  const base = baseGuard(def);
  if (base === undefined) return undefined;
  const checks = (def.checks ?? []).map((check) => checkGuard(check._zod.def, def.type));
  if (checks.some((check) => check === undefined)) return undefined;
  const all = checks as Guard[];
  if (all.length === 0) return base;
  return (value) => {
    if (!base(value)) return false;
    for (const check of all) if (!check(value)) return false;
    return true;
  };
}

/** A guard for a part of a schema: the part's own, or undefined when it has none. */
const part = (schema: z.ZodType | undefined): Guard | undefined => (schema === undefined ? undefined : schemaGuard(schema));

function baseGuard(def: Def): Guard | undefined {
  switch (def.type) {
    case 'string': {
      if (def.format === undefined) return (value) => typeof value === 'string';
      const test = PATTERN_FORMATS.has(def.format) ? patternTest(def.pattern) : undefined;
      return test && ((value) => typeof value === 'string' && test(value));
    }
    case 'number':
      return def.format === undefined ? (value) => typeof value === 'number' && Number.isFinite(value) : undefined;
    case 'boolean':
      return (value) => typeof value === 'boolean';
    case 'unknown':
    case 'any':
      return () => true;
    case 'literal':
    case 'enum': {
      const values = def.type === 'literal' ? def.values : def.entries && Object.values(def.entries);
      // Values a JSON document can hold; zod's enums of numbers also take their names, which a guard need not.
      if (!values || !values.every((v) => typeof v === 'string' || (def.type === 'literal' && (typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v)))))) return undefined;
      const allowed = new Set(values);
      return (value) => allowed.has(value);
    }
    case 'optional': {
      const inner = part(def.innerType);
      return inner && ((value) => value === undefined || inner(value));
    }
    case 'nonoptional': {
      const inner = part(def.innerType);
      return inner && ((value) => value !== undefined && inner(value));
    }
    case 'nullable': {
      const inner = part(def.innerType);
      return inner && ((value) => value === null || inner(value));
    }
    case 'array': {
      const element = part(def.element);
      return (
        element &&
        ((value) => {
          if (!Array.isArray(value)) return false;
          for (let i = 0; i < value.length; i++) if (!element(value[i])) return false;
          return true;
        })
      );
    }
    case 'object':
      return objectGuard(def);
    case 'record': {
      const key = defOf(def.keyType);
      const inner = part(def.valueType);
      // Keys of any string only: zod checks other key schemas key by key, and may rename keys.
      if (!inner || key?.type !== 'string' || key.format !== undefined || key.coerce || (key.checks?.length ?? 0) > 0 || def.mode === 'loose') return undefined;
      return (value) => {
        if (!isPlainObject(value)) return false;
        for (const name in value) {
          // zod leaves a `__proto__` key out of its copy, which then differs from the input.
          if (name === '__proto__' || !Object.prototype.hasOwnProperty.call(value, name) || !inner(value[name])) return false;
        }
        return true;
      };
    }
    case 'union': {
      // z.xor takes a value that exactly one option takes: not a guard's question. A discriminated
      // union (also not inclusive) runs the one option its key's value names; when every option
      // names itself by a literal of its own, the option that takes a value is that one.
      if (def.inclusive === false && !namedByLiterals(def)) return undefined;
      const options = (def.options ?? []).map(part);
      if (options.length === 0 || options.some((option) => option === undefined)) return undefined;
      const all = options as Guard[];
      return (value) => all.some((option) => option(value));
    }
    default:
      return undefined;
  }
}

/** A discriminated union whose options each carry the key as a literal (zod refuses repeated values). */
function namedByLiterals(def: Def): boolean {
  const key = def.discriminator;
  if (typeof key !== 'string' || def.unionFallback) return false;
  return (def.options ?? []).every((option) => {
    const field = defOf(defOf(option)?.shape?.[key]);
    return defOf(option)?.type === 'object' && field?.type === 'literal' && (field.values ?? []).every((v) => v !== undefined);
  });
}

/**
 * An object as zod reads it: every field of the shape (an absent one only if optional), and no
 * key outside the shape, whether zod refuses such keys (a strict object) or drops them from its
 * copy (the default; zod then answers).
 */
function objectGuard(def: Def): Guard | undefined {
  const shape = def.shape;
  if (!shape) return undefined;
  const catchall = defOf(def.catchall);
  if (catchall !== undefined && catchall.type !== 'never') return undefined;
  const names = Object.keys(shape);
  if (Object.getOwnPropertySymbols(shape).length > 0) return undefined;
  const fields = names.map((name) => part(shape[name]));
  if (fields.some((field) => field === undefined)) return undefined;
  const guards = fields as Guard[];
  // zod wants a key that is not optional to be there (`in`), even when its schema takes undefined (z.unknown()).
  const required = names.map((name) => (shape[name] as unknown as { _zod: { optin?: string } })._zod.optin !== 'optional');
  const known = new Set(names);
  return (value) => {
    if (!isPlainObject(value)) return false;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if ((required[i] && !(name in value)) || !guards[i]!(value[name])) return false;
    }
    for (const name in value) if (!known.has(name)) return false;
    return true;
  };
}

function checkGuard(check: CheckDef, type: string): Guard | undefined {
  switch (check.check) {
    // zod's length checks come with a `when` of their own: run on values that have a length,
    // which every string and array that reaches them has.
    case 'max_length':
      return lengthGuard(type, (length) => length <= check.maximum!);
    case 'min_length':
      return lengthGuard(type, (length) => length >= check.minimum!);
    case 'length_equals':
      return lengthGuard(type, (length) => length === check.length!);
  }
  if (check.when !== undefined) return undefined;
  switch (check.check) {
    case 'string_format': {
      const test = check.format === 'regex' && type === 'string' ? patternTest(check.pattern) : undefined;
      return test && ((value) => test(value as string));
    }
    case 'number_format':
      return check.format === 'safeint' && type === 'number' ? (value) => Number.isSafeInteger(value) : undefined;
    case 'greater_than': {
      const bound = check.value;
      if (type !== 'number' || typeof bound !== 'number') return undefined;
      return check.inclusive ? (value) => (value as number) >= bound : (value) => (value as number) > bound;
    }
    case 'less_than': {
      const bound = check.value;
      if (type !== 'number' || typeof bound !== 'number') return undefined;
      return check.inclusive ? (value) => (value as number) <= bound : (value) => (value as number) < bound;
    }
    case 'custom': {
      const fn = check.fn;
      if (typeof fn !== 'function') return undefined;
      // zod refuses on a falsy answer; a promise is zod's to handle (it throws in a synchronous parse).
      return (value) => {
        const answer = fn(value);
        return !(answer instanceof Promise) && Boolean(answer);
      };
    }
    default:
      return undefined;
  }
}

function lengthGuard(type: string, ok: (length: number) => boolean): Guard | undefined {
  if (type !== 'string' && type !== 'array') return undefined;
  return (value) => ok((value as string | unknown[]).length);
}
