import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress } from './address.js';
import { CALL_DOMAIN, openCallSignal } from './call.js';
import { canonicalize } from './canonical-json.js';
import { fromUtf8, utf8 } from './encoding.js';
import { checkFreshness, parseEnvelopeText, verifyEnvelopeSignature } from './envelope.js';
import { HearthError } from './errors.js';
import { openBytes, sealBytes } from './e2e.js';
import { isAcceptableSigningKey, nobleVerify } from './keys.js';
import { siteKeyRotationBytes, verifySiteKeyRotation } from './key-rotation.js';
import { VAULT_DOMAIN } from './vault.js';

const load = (name: string) => JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../test-vectors', name), 'utf8'));

/**
 * The receiver's pure checks in the order of PROTOCOL.md §4, as another implementation would run
 * them: parse and shape, freshness, signature. Returns the code of the first that fails.
 */
function refusal(text: string, siteKey: string, now: number): string | null {
  try {
    const env = parseEnvelopeText(text);
    const stale = checkFreshness(env.ts, now);
    if (stale) return stale.code;
    return verifyEnvelopeSignature(env, siteKey) ? null : 'bad_signature';
  } catch (error) {
    return (error as HearthError).code;
  }
}

describe('test vectors: negative cases and the rest of the protocol', () => {
  it('every negative envelope is refused with its code', () => {
    const vectors = load('negative-envelopes.json');
    for (const c of vectors.cases) {
      expect({ name: c.name, code: refusal(c.text, vectors.siteKey, Date.parse(vectors.now)) }).toEqual({ name: c.name, code: c.code });
    }
    // The unmodified envelope passes every check (so each case fails for its own reason).
    const good = load('envelope-signature.json').envelope;
    expect(refusal(JSON.stringify(good), vectors.siteKey, Date.parse(vectors.now))).toBeNull();
    for (const k of vectors.badKeys) expect({ name: k.name, acceptable: isAcceptableSigningKey(k.key) }).toEqual({ name: k.name, acceptable: false });
  });

  it('addresses parse to the given object and canonical form, or are refused', () => {
    for (const c of load('addresses.json').cases) {
      if (c.error) {
        expect(() => parseAddress(c.input), c.input).toThrow(HearthError);
      } else {
        expect(parseAddress(c.input)).toEqual(c.address);
        expect(formatAddress(parseAddress(c.input))).toBe(c.canonical);
      }
    }
  });

  it('a rotation notice verifies under the old key and for nothing else', () => {
    const v = load('key-rotation.json');
    const expected = { address: v.profile.address, previous: v.oldKey.publicKey, key: v.profile.siteKey };
    expect(fromUtf8(siteKeyRotationBytes({ ...expected, at: v.profile.siteKeyRotation.at }))).toBe(v.signingInput);
    expect(verifySiteKeyRotation(v.profile.siteKeyRotation, expected, nobleVerify)).toBe(true);
    expect(verifySiteKeyRotation(v.profile.siteKeyRotation, { ...expected, address: 'mallory@alice.example' }, nobleVerify)).toBe(false);
    expect(verifySiteKeyRotation(v.profile.siteKeyRotation, { ...expected, key: v.oldKey.publicKey }, nobleVerify)).toBe(false);
    expect(verifySiteKeyRotation({ ...v.profile.siteKeyRotation, at: '2026-11-26T08:00:00Z' }, expected, nobleVerify)).toBe(false);
  });

  for (const [file, domain] of [
    ['vault-sealed.json', VAULT_DOMAIN],
    ['call-signal.json', CALL_DOMAIN],
  ] as const) {
    it(`${file}: opens to the signed body, and seals again to the same bytes`, () => {
      const v = load(file);
      const recipient = { id: v.recipient.id, sign: v.recipient.sign, dh: v.recipient.dh };
      expect(fromUtf8(openBytes(v.sealed, recipient, domain))).toBe(canonicalize(v.signed));
      let counter = file === 'vault-sealed.json' ? 0x30 : 0x40;
      const random = (n: number) => new Uint8Array(n).fill(counter++);
      expect(sealBytes(utf8(canonicalize(v.signed)), [{ id: recipient.id, dhKey: recipient.dh.publicKey }], domain, random)).toEqual(v.sealed);
      // The other domain's labels never open it.
      expect(() => openBytes(v.sealed, recipient, domain === VAULT_DOMAIN ? CALL_DOMAIN : VAULT_DOMAIN)).toThrow();
    });
  }

  it('call-signal.json: the signal checks out under the sending device key', () => {
    const v = load('call-signal.json');
    const signal = openCallSignal(v.sealed, { id: v.recipient.id, sign: v.recipient.sign, dh: v.recipient.dh }, (id) => (id === v.sender.id ? v.sender.sign.publicKey : undefined));
    expect(signal).toEqual(v.signed);
  });
});
