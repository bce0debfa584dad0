import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from './encoding.js';
import { generateSigningKeyPair, nobleSigner, nobleVerify, nobleX25519 } from './keys.js';
import { nodeSigner, nodeVerify, nodeX25519 } from './node-crypto.js';

describe('node:crypto and @noble agree byte for byte', () => {
  it('X25519 public keys and shared secrets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
        const bPublic = x25519.getPublicKey(b);
        expect(toBase64url(nodeX25519.publicKey(a))).toBe(toBase64url(nobleX25519.publicKey(a)));
        expect(toBase64url(nodeX25519.sharedSecret(a, bPublic))).toBe(toBase64url(nobleX25519.sharedSecret(a, bPublic)));
      }),
      { numRuns: 200 },
    );
  });

  it('a one-time X25519 key made by node:crypto agrees with @noble on its public key and shared secret', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (peerSecret) => {
        const once = nodeX25519.generate!();
        expect(once.publicKey).toHaveLength(32);
        const peerPublic = x25519.getPublicKey(peerSecret);
        // What the peer computes from the one-time public key is what the one-time key computes from the peer's.
        expect(toBase64url(once.sharedSecret(peerPublic))).toBe(toBase64url(x25519.getSharedSecret(peerSecret, once.publicKey)));
      }),
      { numRuns: 100 },
    );
  });

  it('Ed25519 signatures made by one verify under the other, and a changed byte breaks both', () => {
    const keys = generateSigningKeyPair();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (message) => {
        const sig = nodeSigner(keys).sign(message);
        expect(toBase64url(sig)).toBe(toBase64url(nobleSigner(keys).sign(message)));
        expect(nobleVerify(message, sig, keys.publicKey)).toBe(true);
        const bad = sig.slice();
        bad[0]! ^= 1;
        expect(nodeVerify(message, bad, keys.publicKey)).toBe(false);
        expect(ed25519.verify(bad, message, fromBase64url(keys.publicKey))).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
