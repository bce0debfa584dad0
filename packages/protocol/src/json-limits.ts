import { EnvelopeError } from './errors.js';

/**
 * Strict JSON for everything that arrives from the network (PROTOCOL.md §4 "Strict JSON").
 * JSON.parse is lenient where two implementations could disagree about what a message says:
 * it keeps the last of two equal keys and it accepts lone UTF-16 surrogates (`"\ud800"`), which
 * have no UTF-8 form and so no canonical form to sign. Every Hearth receiver refuses both, and
 * bodies that are not valid UTF-8, with `invalid_json` (400), so a poison message is answered
 * once and never retried.
 */

/**
 * One linear pass over JSON text, before anything parses it: the nesting depth, how many object
 * keys it writes, and, when asked (`findDuplicate`), the first key an object repeats. A hostile
 * body of a million `[` costs nothing but the scan. The text is not validated here (JSON.parse
 * does that); on text that is not JSON the answer is meaningless but harmless, since JSON.parse
 * then refuses it.
 */
export function scanJson(text: string, findDuplicate = true): { depth: number; keys: number; duplicateKey: string | null } {
  let depth = 0;
  let max = 0;
  let count = 0;
  // For each open container: false for an array; for an object, true, or the keys seen so far
  // when looking for a repeated one.
  const open: Array<Set<string> | boolean> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: its end is the next quote that no backslash escapes. indexOf jumps over long
      // runs natively (a DM's base64 ciphertext is most of its envelope), not a character at a time.
      const start = i;
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && escapesQuote(text, start, end)) end = text.indexOf('"', end + 1);
      i = end === -1 ? text.length : end;
      const top = open[open.length - 1];
      if (expectKey && top) {
        expectKey = false;
        count++;
        if (top === true) continue;
        let key = text.slice(start + 1, i);
        // Only the key itself is searched for an escape: a search of the text past it would cost
        // up to the whole body for every key (quadratic on a body of many keys).
        if (key.includes('\\')) {
          try {
            key = JSON.parse(text.slice(start, i + 1)) as string;
          } catch {
            return { depth: max, keys: count, duplicateKey: null };
          }
        }
        if (top.has(key)) return { depth: max, keys: count, duplicateKey: key };
        top.add(key);
      }
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) max = depth;
      open.push(c === 0x7b ? (findDuplicate ? new Set() : true) : false);
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      open.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = open.length > 0 && open[open.length - 1] !== false;
    }
  }
  return { depth: max, keys: count, duplicateKey: null };
}

/** Whether the quote at `quote` is escaped: an odd run of backslashes before it, inside the string opened at `start`. */
function escapesQuote(text: string, start: number, quote: number): boolean {
  let at = quote - 1;
  while (at > start && text.charCodeAt(at) === 0x5c) at--;
  return (quote - 1 - at) % 2 === 1;
}

/**
 * The keys of every object in a parsed value. JSON.parse keeps one of two equal keys, so this is
 * the number of keys the text wrote exactly when no object repeats one: a count compared finds a
 * repeat without a set of every object's keys (the exact search runs only when they differ).
 */
function keysIn(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) n += keysIn(value[i]);
    return n;
  }
  for (const key in value) {
    if (Object.hasOwn(value, key)) n += 1 + keysIn((value as Record<string, unknown>)[key]);
  }
  return n;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether JSON text holds a surrogate at all, raw or as an escape (\\uD800 to \\uDFFF). Nearly no text
 * does, and one test of the text is cheaper than walking the parsed value (whose paths are
 * strings made for every member). It may say yes when there is none (an escaped backslash before
 * "ud800"): the walk then decides.
 */
const ANY_SURROGATE = /[\uD800-\uDFFF]|\\u[dD][89a-fA-F]/;

function mayHoldSurrogate(text: string): boolean {
  return ANY_SURROGATE.test(text);
}

// String.prototype.isWellFormed (ES2024: Node 20, browsers since 2023) answers natively, at once
// for the one-byte strings nearly all protocol text is; the pattern serves older browsers.
const isWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;

export function hasLoneSurrogate(text: string): boolean {
  return isWellFormed ? !isWellFormed.call(text) : LONE_SURROGATE.test(text);
}

/** The first string (value or key) in a parsed JSON value that holds a lone surrogate, as a path. */
export function findLoneSurrogate(value: unknown, path = '', depth = 0): string | null {
  if (typeof value === 'string') return hasLoneSurrogate(value) ? path || '(root)' : null;
  if (value === null || typeof value !== 'object' || depth > 64) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findLoneSurrogate(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const here = path ? `${path}.${key}` : key;
    if (hasLoneSurrogate(key)) return here;
    const found = findLoneSurrogate(item, here, depth + 1);
    if (found) return found;
  }
  return null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes from the network to text: invalid UTF-8 is refused, never replaced with U+FFFD. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new EnvelopeError('invalid_json', 'body is not valid UTF-8');
  }
}

/**
 * Parses JSON text (or raw bytes) from the network with a size and a depth limit, refusing
 * duplicate keys and lone surrogates; errors are EnvelopeErrors with stable codes.
 */
export function parseLimitedJson(input: string | Uint8Array, limits: { maxBytes: number; maxDepth: number }): unknown {
  const bytes = typeof input === 'string' ? utf8Length(input) : input.byteLength;
  if (bytes > limits.maxBytes) {
    throw new EnvelopeError('too_large', `body is ${bytes} bytes; the limit is ${limits.maxBytes}`, 413);
  }
  const text = typeof input === 'string' ? input : decodeUtf8Strict(input);
  const scan = scanJson(text, false);
  if (scan.depth > limits.maxDepth) {
    throw new EnvelopeError('too_deep', `JSON nests deeper than ${limits.maxDepth} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new EnvelopeError('invalid_json', 'body is not valid JSON');
  }
  if (keysIn(value) !== scan.keys) {
    const repeated = scanJson(text).duplicateKey ?? '';
    throw new EnvelopeError('invalid_json', `an object repeats the key "${JSON.stringify(repeated).slice(1, 65)}"`);
  }
  const lone = mayHoldSurrogate(text) ? findLoneSurrogate(value) : null;
  if (lone) throw new EnvelopeError('invalid_json', `${lone.slice(0, 100)} holds a lone UTF-16 surrogate, which is not Unicode text`);
  return value;
}

// Text that is all ASCII (nearly every envelope and request) is as many UTF-8 bytes as it has
// characters: one native test of it instead of a loop over every character in JavaScript.
const ASCII_ONLY = /^[\x00-\x7f]*$/;

export function utf8Length(text: string): number {
  if (ASCII_ONLY.test(text)) return text.length;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
