import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from './encoding.js';
import { generateAgreementKeyPair, generateSigningKeyPair, nobleSigner, nobleSymmetric, nobleVerify, nobleX25519 } from './keys.js';
import { decryptDm, encryptDm, signDmPlaintext, type DeviceSecrets } from './e2e.js';
import { nativeCrypto, nodeSigner, nodeVerify, nodeX25519, opensslSigner, opensslSymmetric, opensslVerify, opensslX25519, sodiumCrypto } from './node-crypto.js';
import { loadSodium } from './sodium.js';

const sodiumBinding = loadSodium().binding;
const sodium = sodiumBinding ? sodiumCrypto(sodiumBinding) : undefined;

describe('the native library a Node process uses', () => {
  it('is libsodium where sodium-native has a prebuilt addon (this machine), unless the operator asks for OpenSSL', () => {
    if (process.env.HEARTH_CRYPTO === 'openssl') {
      expect(nativeCrypto).toEqual({ library: 'openssl', reason: 'HEARTH_CRYPTO=openssl' });
      return;
    }
    expect(nativeCrypto).toEqual({ library: 'libsodium' });
    expect(sodium).toBeDefined();
    expect(nodeVerify).not.toBe(opensslVerify);
    expect(nodeX25519).not.toBe(opensslX25519);
    expect(nodeSigner).not.toBe(opensslSigner);
  });
});

const libraries = [
  { name: 'OpenSSL (node:crypto)', signer: opensslSigner, verify: opensslVerify, x25519: opensslX25519, symmetric: opensslSymmetric },
  ...(sodium ? [{ name: 'libsodium', ...sodium }] : []),
];

describe.each(libraries)('$name and @noble agree byte for byte', ({ signer: nodeSigner, verify: nodeVerify, x25519: nodeX25519, symmetric: nodeSymmetric }) => {
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

  it('a one-time X25519 key made natively agrees with @noble on its public key and shared secret', () => {
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

  it('XChaCha20-Poly1305: the same ciphertext from the same key, nonce and associated data, and each opens the other\'s', () => {
    const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    fc.assert(
      fc.property(bytes(32), bytes(24), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 1_200 }), (key, nonce, aad, plain) => {
        const fromNode = nodeSymmetric.xchacha20poly1305(key, nonce, aad).encrypt(plain);
        const fromNoble = nobleSymmetric.xchacha20poly1305(key, nonce, aad).encrypt(plain);
        expect(toBase64url(fromNode)).toBe(toBase64url(fromNoble));
        expect(toBase64url(nodeSymmetric.xchacha20poly1305(key, nonce, aad).decrypt(fromNoble))).toBe(toBase64url(plain));
        expect(toBase64url(nobleSymmetric.xchacha20poly1305(key, nonce, aad).decrypt(fromNode))).toBe(toBase64url(plain));
      }),
      { numRuns: 300 },
    );
  });

  it('XChaCha20-Poly1305 refuses a changed byte, other associated data, a short ciphertext and wrong sizes', () => {
    const key = new Uint8Array(32).fill(7);
    const nonce = new Uint8Array(24).fill(9);
    const aad = new TextEncoder().encode('aad');
    const sealed = nodeSymmetric.xchacha20poly1305(key, nonce, aad).encrypt(new TextEncoder().encode('hello there'));
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice();
      bad[i]! ^= 0x80;
      expect(() => nodeSymmetric.xchacha20poly1305(key, nonce, aad).decrypt(bad)).toThrow();
    }
    expect(() => nodeSymmetric.xchacha20poly1305(key, nonce, new TextEncoder().encode('aae')).decrypt(sealed)).toThrow();
    expect(() => nodeSymmetric.xchacha20poly1305(key, nonce, aad).decrypt(sealed.subarray(0, 15))).toThrow();
    expect(() => nodeSymmetric.xchacha20poly1305(key.subarray(0, 31), nonce, aad).encrypt(sealed)).toThrow(/32-byte key/);
    expect(() => nodeSymmetric.xchacha20poly1305(key, nonce.subarray(0, 12), aad).encrypt(sealed)).toThrow(/24-byte nonce/);
  });

  it('XChaCha20-Poly1305 gives bytes of their own, not a view into a shared pool', () => {
    const key = new Uint8Array(32);
    const nonce = new Uint8Array(24);
    const sealed = nodeSymmetric.xchacha20poly1305(key, nonce, new Uint8Array(0)).encrypt(new Uint8Array(10));
    expect(sealed.buffer.byteLength).toBe(26);
    expect(nodeSymmetric.xchacha20poly1305(key, nonce, new Uint8Array(0)).decrypt(sealed).buffer.byteLength).toBe(10);
  });

  it('HKDF-SHA256, with a salt and without one', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }), fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 96 }), (ikm, salt, info, length) => {
        expect(toBase64url(nodeSymmetric.hkdfSha256(ikm, salt, info, length))).toBe(toBase64url(nobleSymmetric.hkdfSha256(ikm, salt, info, length)));
      }),
      { numRuns: 200 },
    );
  });

  it('a DM sealed natively opens with @noble, and the other way round', () => {
    const device = (id: string): DeviceSecrets => ({ id, sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() });
    const [from, to] = [device('d1'), device('d2')];
    const plain = signDmPlaintext(from, { id: 'm1', from: 'a@a.example', to: 'b@b.example', sentAt: '2026-11-30T00:00:00.000Z', text: 'hi, é and 🔥' });
    for (const [seal, open] of [[nodeX25519, nobleX25519], [nobleX25519, nodeX25519]] as const) {
      const sealed = encryptDm(plain, [{ id: to.id, dhKey: to.dh.publicKey }], undefined, seal);
      expect(decryptDm(sealed, to, open)).toEqual(plain);
    }
  });
});

describe('libsodium and OpenSSL agree with each other', () => {
  it.runIf(sodium)('a signature, an agreement and a sealed DM made by one are taken by the other', () => {
    const s = sodium!;
    const device = (id: string): DeviceSecrets => ({ id, sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() });
    const [from, to] = [device('d1'), device('d2')];
    const message = new TextEncoder().encode('one envelope');
    expect(toBase64url(s.signer(from.sign).sign(message))).toBe(toBase64url(opensslSigner(from.sign).sign(message)));
    expect(opensslVerify(message, s.signer(from.sign).sign(message), from.sign.publicKey)).toBe(true);
    expect(s.verify(message, opensslSigner(from.sign).sign(message), from.sign.publicKey)).toBe(true);
    const plain = signDmPlaintext(from, { id: 'm1', from: 'a@a.example', to: 'b@b.example', sentAt: '2026-11-30T00:00:00.000Z', text: 'hi' });
    for (const [seal, open] of [[s.x25519, opensslX25519], [opensslX25519, s.x25519]] as const) {
      expect(decryptDm(encryptDm(plain, [{ id: to.id, dhKey: to.dh.publicKey }], undefined, seal), to, open)).toEqual(plain);
    }
  });

  it.runIf(sodium)('both refuse what is not a key or a signature, without throwing', () => {
    const keys = generateSigningKeyPair();
    const message = new Uint8Array([1, 2, 3]);
    const sig = sodium!.signer(keys).sign(message);
    for (const verify of [sodium!.verify, opensslVerify]) {
      expect(verify(message, sig.subarray(0, 63), keys.publicKey)).toBe(false);
      expect(verify(message, sig, 'not a key')).toBe(false);
      expect(verify(message, sig, toBase64url(new Uint8Array(31)))).toBe(false);
      expect(verify(message, new Uint8Array(64), keys.publicKey)).toBe(false);
    }
    // An all-zero agreement (a small-order peer key) is refused by both.
    expect(() => sodium!.x25519.sharedSecret(new Uint8Array(32).fill(5), new Uint8Array(32))).toThrow();
    expect(() => opensslX25519.sharedSecret(new Uint8Array(32).fill(5), new Uint8Array(32))).toThrow();
  });
});
