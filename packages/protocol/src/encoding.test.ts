import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';

// RFC 4648 §5 by another route: Node's base64, with the alphabet swapped and the padding cut.
const reference = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** The module as a site loads it (Buffer there) and as a browser does (no Buffer). */
async function encodings(withBuffer: boolean): Promise<typeof import('./encoding.js')> {
  vi.resetModules();
  if (!withBuffer) vi.stubGlobal('Buffer', undefined);
  try {
    return await import('./encoding.js');
  } finally {
    vi.unstubAllGlobals();
  }
}

describe.each([
  ['in Node', true],
  ['in a browser', false],
])('base64url %s', (_where, withBuffer) => {
  afterEach(() => vi.resetModules());

  it('encodes as RFC 4648 §5 without padding, and decodes back', async () => {
    const { fromBase64url, toBase64url } = await encodings(withBuffer);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = toBase64url(bytes);
        expect(text).toBe(reference(bytes));
        expect(Array.from(fromBase64url(text))).toEqual(Array.from(bytes));
      }),
    );
  });

  it('encodes only the view it is given, not the whole buffer behind it', async () => {
    const { toBase64url } = await encodings(withBuffer);
    const whole = randomBytes(100);
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 7, 64);
    expect(toBase64url(view)).toBe(reference(whole.subarray(7, 71)));
  });

  it('decodes into bytes of their own, not a view into a buffer shared with others', async () => {
    const { fromBase64url } = await encodings(withBuffer);
    const bytes = fromBase64url(reference(randomBytes(40)));
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(40);
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
  });

  it('refuses text that is not base64url', async () => {
    const { fromBase64url } = await encodings(withBuffer);
    for (const bad of ['a+b/', 'abc=', 'a', '!!!!']) expect(() => fromBase64url(bad)).toThrow(/not base64url/);
  });
});
