import fs from 'node:fs';
import { LIMITS } from './limits.js';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEnvelope, newEnvelopeId, parseEnvelopeText, signingBytes, validateEnvelope, verifyEnvelopeSignature, type Envelope } from './envelope.js';
import { fromUtf8 } from './encoding.js';
import { EnvelopeError } from './errors.js';
import { generateSigningKeyPair, nobleSigner, nobleVerify } from './keys.js';

const vector = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../test-vectors/envelope-signature.json'), 'utf8')) as {
  siteKey: { secretKey: string; publicKey: string };
  signingInput: string;
  envelope: Envelope;
};

const keys = generateSigningKeyPair();
const username = fc.stringMatching(/^[a-z0-9_]{1,32}$/);
const address = fc.record({ username, host: fc.constantFrom('a.example', 'b.example', '127.0.0.1'), port: fc.integer({ min: 1, max: 65535 }) });
const text = fc.string({ minLength: 1, maxLength: 5000 }).filter((t) => !/[\uD800-\uDFFF]/.test(t));

describe('envelopes', () => {
  it('matches the test vector: signing input, signature, verification', () => {
    const env = validateEnvelope(vector.envelope);
    expect(fromUtf8(signingBytes(env))).toBe(vector.signingInput);
    expect(verifyEnvelopeSignature(env, vector.siteKey.publicKey)).toBe(true);
    // Ed25519 is deterministic: signing again gives the same signature.
    const again = createEnvelope({ ...env, id: env.id, ts: env.ts }, nobleSigner(vector.siteKey));
    expect(again.sig).toBe(vector.envelope.sig);
  });

  it('sign then verify holds for any post, and any change breaks it', () => {
    fc.assert(
      fc.property(address, address, text, fc.nat(1000), (from, to, body, flip) => {
        const env = createEnvelope({ type: 'post.create', from, to, data: { post: { id: 'p1', text: body, createdAt: '2026-01-01T00:00:00.000Z' } } }, nobleSigner(keys));
        const parsed = parseEnvelopeText(JSON.stringify(env));
        expect(verifyEnvelopeSignature(parsed, keys.publicKey, nobleVerify)).toBe(true);
        const changed = { ...parsed, to: { ...parsed.to, port: (parsed.to.port % 65535) + 1 } };
        expect(verifyEnvelopeSignature(changed, keys.publicKey)).toBe(false);
        const sig = parsed.sig.split('');
        const i = flip % 85;
        sig[i] = sig[i] === 'A' ? 'B' : 'A';
        expect(verifyEnvelopeSignature({ ...parsed, sig: sig.join('') }, keys.publicKey)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('is not fooled by key reordering on the wire', () => {
    const env = createEnvelope({ type: 'follow', from: { username: 'a', host: 'a.example', port: 443 }, to: { username: 'b', host: 'b.example', port: 443 }, data: {} }, nobleSigner(keys));
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(env).reverse())));
    expect(verifyEnvelopeSignature(validateEnvelope(reordered), keys.publicKey)).toBe(true);
  });

  it.each([
    ['wrong version', (e: any) => ({ ...e, v: 2 }), 'unsupported_version'],
    ['unknown type', (e: any) => ({ ...e, type: 'nope' }), 'unknown_type'],
    ['extra field', (e: any) => ({ ...e, extra: 1 }), 'invalid_envelope'],
    ['bad id', (e: any) => ({ ...e, id: 'not-a-uuid' }), 'invalid_envelope'],
    ['bad data', (e: any) => ({ ...e, data: { post: { id: 'x' } } }), 'invalid_data'],
    ['bad username', (e: any) => ({ ...e, from: { ...e.from, username: 'A' } }), 'invalid_address'],
  ])('refuses %s', (_name, mutate, code) => {
    const env = createEnvelope({ type: 'post.create', from: { username: 'a', host: 'a.example', port: 443 }, to: { username: 'b', host: 'b.example', port: 443 }, data: { post: { id: 'p', text: 't', createdAt: '2026-01-01T00:00:00.000Z' } } }, nobleSigner(keys));
    try {
      validateEnvelope(mutate(env));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EnvelopeError);
      expect((error as EnvelopeError).code).toBe(code);
    }
  });

  it('refuses oversized and deeply nested text before parsing', () => {
    expect(() => parseEnvelopeText('x'.repeat(LIMITS.relayEnvelopeBytes + 1))).toThrow(expect.objectContaining({ code: 'too_large' }));
    expect(() => parseEnvelopeText('['.repeat(20) + ']'.repeat(20))).toThrow(expect.objectContaining({ code: 'too_deep' }));
    expect(() => parseEnvelopeText('{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')).toThrow(expect.objectContaining({ code: 'invalid_envelope' }));
  });
});

describe('freshness', () => {
  const now = Date.parse('2026-11-25T12:00:00.000Z');
  it('accepts small skew and week-old retries, refuses the far future and the very old', async () => {
    const { checkFreshness } = await import('./envelope.js');
    expect(checkFreshness('2026-11-25T12:09:00.000Z', now)).toBeNull();
    expect(checkFreshness('2026-11-18T12:00:00.000Z', now)).toBeNull();
    expect(checkFreshness('2026-11-25T12:11:00.000Z', now)?.code).toBe('clock_skew');
    expect(checkFreshness('2026-11-10T11:59:00.000Z', now)?.code).toBe('expired');
  });
});

describe('envelope ids', () => {
  it('are UUIDv7, all different, and sort in the order they were made', () => {
    const ids = Array.from({ length: 20_000 }, () => newEnvelopeId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The first 48 bits are the time in ms.
    const ms = Number.parseInt(ids.at(-1)!.replace(/-/g, '').slice(0, 12), 16);
    expect(Math.abs(ms - Date.now())).toBeLessThan(60_000);
  });
});

describe('envelope size', () => {
  const siteKeys = generateSigningKeyPair();
  const from = { username: 'alice', host: 'a.example', port: 443 };
  const to = { username: 'bob', host: 'b.example', port: 443 };
  const make = (text: string) => createEnvelope({ type: 'post.create', from, to, data: { post: { id: 'p1', text, createdAt: '2026-11-30T00:00:00.000Z' } } } as never, nobleSigner(siteKeys));

  it('is measured as its JSON is written, escapes and Unicode included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        const env = make(text);
        // What the limit is checked against: the bytes of the JSON the envelope travels as.
        const size = new TextEncoder().encode(JSON.stringify(env)).length;
        const room = LIMITS.envelopeBytes - size;
        expect(() => make(text + 'x'.repeat(room))).not.toThrow();
        expect(() => make(text + 'x'.repeat(room + 1))).toThrow(expect.objectContaining({ code: 'too_large' }));
      }),
      { numRuns: 30 },
    );
  });
});
