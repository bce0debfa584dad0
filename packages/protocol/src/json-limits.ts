import { EnvelopeError } from './errors.js';

/**
 * Measures the nesting depth of JSON text in one linear pass, before anything parses it,
 * so a hostile body of a million `[` costs nothing but a scan.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Parses JSON text from the network with a size and a depth limit; errors are EnvelopeErrors. */
export function parseLimitedJson(text: string, limits: { maxBytes: number; maxDepth: number }): unknown {
  const bytes = utf8Length(text);
  if (bytes > limits.maxBytes) {
    throw new EnvelopeError('too_large', `body is ${bytes} bytes; the limit is ${limits.maxBytes}`, 413);
  }
  if (jsonDepth(text) > limits.maxDepth) {
    throw new EnvelopeError('too_deep', `JSON nests deeper than ${limits.maxDepth} levels`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new EnvelopeError('invalid_json', 'body is not valid JSON');
  }
}

export function utf8Length(text: string): number {
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
