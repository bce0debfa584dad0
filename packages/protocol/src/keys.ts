import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CryptoError } from './errors.js';
import { fromBase64url, toBase64url } from './encoding.js';

/**
 * Ed25519 signing behind two tiny interfaces, so Node processes can plug native code in on their
 * hot path (libsodium or OpenSSL, 10-60x faster than pure JS) while the browser uses @noble. Same wire format:
 * raw 32-byte public keys and 64-byte signatures, base64url.
 */
export interface Signer {
  readonly publicKey: string;
  sign(message: Uint8Array): Uint8Array;
}

export type VerifyFn = (message: Uint8Array, signature: Uint8Array, publicKey: string) => boolean;

export interface SigningKeyPair {
  publicKey: string;
  secretKey: string;
}

export function generateSigningKeyPair(): SigningKeyPair {
  const secret = ed25519.utils.randomSecretKey();
  return { secretKey: toBase64url(secret), publicKey: toBase64url(ed25519.getPublicKey(secret)) };
}

export function signingPublicKey(secretKey: string): string {
  return toBase64url(ed25519.getPublicKey(decodeKey(secretKey, 'secret key')));
}

export function nobleSigner(keys: SigningKeyPair): Signer {
  const secret = decodeKey(keys.secretKey, 'secret key');
  return { publicKey: keys.publicKey, sign: (message) => ed25519.sign(message, secret) };
}

export const nobleVerify: VerifyFn = (message, signature, publicKey) => {
  try {
    if (signature.length !== 64) return false;
    return ed25519.verify(signature, message, decodeKey(publicKey, 'public key'));
  } catch {
    return false;
  }
};

/** X25519 behind an interface for the same reason: native in Node (node-crypto.ts), @noble in the browser. */
export interface X25519 {
  publicKey(secret: Uint8Array): Uint8Array;
  sharedSecret(secret: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /**
   * A fresh one-time key pair, where the implementation can make one faster than from random
   * bytes (node:crypto imports a raw private key slowly, but generates one quickly).
   */
  generate?(): { publicKey: Uint8Array; sharedSecret(publicKey: Uint8Array): Uint8Array };
  /**
   * The symmetric half of sealing that goes with this agreement, when the implementation has its
   * own (libsodium's or OpenSSL's); @noble's otherwise. Same bytes either way.
   */
  symmetric?: Symmetric;
}

/**
 * XChaCha20-Poly1305 and HKDF-SHA256 behind an interface, for the same reason as the others. In
 * Node it is native (libsodium's, or OpenSSL's): besides being faster on small messages, it saves every thread that opens
 * messages (a vault catching up runs one per core) from compiling its own copy of the JS ciphers,
 * which cost a vault's sync of 10,000 DMs about as much as the opening itself.
 */
export interface Symmetric {
  xchacha20poly1305(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): { encrypt(plain: Uint8Array): Uint8Array; decrypt(sealed: Uint8Array): Uint8Array };
  /** RFC 5869 with SHA-256; no salt means a salt of zeros, as the RFC says. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array;
}

export const nobleSymmetric: Symmetric = {
  xchacha20poly1305: (key, nonce, aad) => xchacha20poly1305(key, nonce, aad),
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
};

export const nobleX25519: X25519 = {
  publicKey: (secret) => x25519.getPublicKey(secret),
  sharedSecret: (secret, publicKey) => x25519.getSharedSecret(secret, publicKey),
};

export interface AgreementKeyPair {
  publicKey: string;
  secretKey: string;
}

export function generateAgreementKeyPair(): AgreementKeyPair {
  const secret = x25519.utils.randomSecretKey();
  return { secretKey: toBase64url(secret), publicKey: toBase64url(x25519.getPublicKey(secret)) };
}

export function decodeKey(text: string, what: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64url(text);
  } catch {
    throw new CryptoError('invalid_key', `${what} is not base64url`);
  }
  if (bytes.length !== 32) throw new CryptoError('invalid_key', `${what} must be 32 bytes`);
  return bytes;
}

export function isKeyText(text: unknown): text is string {
  return typeof text === 'string' && /^[A-Za-z0-9_-]{43}$/.test(text);
}

/**
 * Whether a published Ed25519 public key is one a receiver may trust (PROTOCOL.md §3): its
 * encoding is canonical (RFC 8032 strict, not ZIP-215) and the point is not of small order.
 * A small-order key such as the identity point "verifies" signatures it never made (R = identity,
 * S = 0 passes for any message), so such keys are refused when first fetched. The checks are
 * @noble/curves' own point decoding and order test, not curve arithmetic of ours.
 */
export function isAcceptableSigningKey(publicKey: string): boolean {
  if (!isKeyText(publicKey)) return false;
  try {
    const point = ed25519.Point.fromBytes(fromBase64url(publicKey), false);
    return !point.isSmallOrder() && point.isTorsionFree();
  } catch {
    return false;
  }
}
