import { toBase64url, fromBase64url } from './encoding.js';
import { nobleVerify, nobleX25519, type VerifyFn, type X25519 } from './keys.js';

/**
 * Many X25519 agreements and Ed25519 checks at once, for a device reading a page of messages.
 * The browser's WebCrypto does both natively (about 10x faster than JS) but only asynchronously;
 * the DM code is synchronous. So a page is prepared first, everything in parallel, and the
 * synchronous code then finds each answer ready (see `preparedX25519`, `preparedVerify`).
 */
export interface BatchCrypto {
  /** X25519 of `secret` with each public key (base64url), by public key; one that fails is left out. */
  sharedSecrets(secret: Uint8Array, ownPublic: Uint8Array, publics: string[]): Promise<Map<string, Uint8Array>>;
  /** Ed25519 checks; `false` only means "not confirmed here" (the caller checks again with @noble). */
  verifyAll(checks: SignatureCheck[]): Promise<boolean[]>;
}

export interface SignatureCheck {
  message: Uint8Array;
  signature: Uint8Array;
  publicKey: string;
}

/** X25519 where prepared secrets are used and anything else is computed by @noble as before. */
export function preparedX25519(prepared: Map<string, Uint8Array>): X25519 {
  return { ...nobleX25519, sharedSecret: (secret, publicKey) => prepared.get(toBase64url(publicKey)) ?? nobleX25519.sharedSecret(secret, publicKey) };
}

/**
 * A verify function that answers from a prepared check only for exactly that message, signature
 * and key (a signature copied onto another message finds nothing); anything else, and any check
 * that did not pass there, is verified by @noble, so WebCrypto's stricter rules on odd encodings
 * never refuse what a device accepted before.
 */
export function preparedVerify(prepared: SignatureCheck & { ok: boolean }): VerifyFn {
  return (message, signature, publicKey) =>
    (prepared.ok && prepared.publicKey === publicKey && sameBytes(prepared.signature, signature) && sameBytes(prepared.message, message)) || nobleVerify(message, signature, publicKey);
}

/** Bytes WebCrypto takes (its types want a plain ArrayBuffer behind them). */
const bytes = (base64url: string) => fromBase64url(base64url) as Uint8Array<ArrayBuffer>;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** BatchCrypto on WebCrypto, when this runtime's WebCrypto has Ed25519 and X25519; undefined otherwise. */
export async function webCryptoBatch(subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle): Promise<BatchCrypto | undefined> {
  if (!subtle) return undefined;
  try {
    // Both algorithms must be there: a probe with fixed public keys (the base points' encodings).
    await subtle.importKey('raw', bytes('CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), { name: 'X25519' }, false, []);
    await subtle.importKey('raw', bytes('WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY'), { name: 'Ed25519' }, false, ['verify']);
  } catch {
    return undefined;
  }
  const verifyKeys = new Map<string, Promise<CryptoKey>>();
  const verifyKey = (publicKey: string) => {
    let key = verifyKeys.get(publicKey);
    if (!key) {
      if (verifyKeys.size > 1000) verifyKeys.clear();
      key = subtle.importKey('raw', bytes(publicKey), { name: 'Ed25519' }, false, ['verify']);
      verifyKeys.set(publicKey, key);
    }
    return key;
  };
  return {
    async sharedSecrets(secret, ownPublic, publics) {
      const privateKey = await subtle.importKey('jwk', { kty: 'OKP', crv: 'X25519', d: toBase64url(secret), x: toBase64url(ownPublic) }, { name: 'X25519' }, false, ['deriveBits']);
      const out = new Map<string, Uint8Array>();
      await Promise.all(
        [...new Set(publics)].map(async (text) => {
          try {
            const publicKey = await subtle.importKey('raw', bytes(text), { name: 'X25519' }, false, []);
            out.set(text, new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: publicKey }, privateKey, 256)));
          } catch {
            // Left to @noble, which decides as it always did (a small-order key, a bad encoding).
          }
        }),
      );
      return out;
    },
    verifyAll(checks) {
      return Promise.all(
        checks.map(async (c) => {
          try {
            return c.signature.length === 64 && (await subtle.verify('Ed25519', await verifyKey(c.publicKey), c.signature as Uint8Array<ArrayBuffer>, c.message as Uint8Array<ArrayBuffer>));
          } catch {
            return false;
          }
        }),
      );
    },
  };
}
