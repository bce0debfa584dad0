import crypto from 'node:crypto';
import type { Signer, SigningKeyPair, VerifyFn, X25519 } from './keys.js';

/**
 * node:crypto (OpenSSL) behind the protocol's crypto interfaces, for Node processes: the
 * backend's hot path, the vault and the CLI. Roughly 10-30x faster than pure JS, same wire
 * format (raw 32-byte keys, 64-byte signatures). Never imported by browser code: it is only
 * reachable as `@hearth/protocol/node`.
 */
export function nodeSigner(keys: SigningKeyPair): Signer {
  const privateKey = crypto.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: keys.secretKey, x: keys.publicKey }, format: 'jwk' });
  return { publicKey: keys.publicKey, sign: (message) => new Uint8Array(crypto.sign(null, message, privateKey)) };
}

const keyCache = new Map<string, crypto.KeyObject>();

function publicKeyObject(publicKey: string): crypto.KeyObject {
  let key = keyCache.get(publicKey);
  if (!key) {
    key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
    if (keyCache.size > 10_000) keyCache.clear();
    keyCache.set(publicKey, key);
  }
  return key;
}

export const nodeVerify: VerifyFn = (message, signature, publicKey) => {
  try {
    return signature.length === 64 && crypto.verify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
};

// The fixed DER header of an X25519 private key (PKCS#8), RFC 8410.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * Private keys are imported from raw bytes through DER, which OpenSSL does slowly (about 0.7 ms):
 * the few long-lived ones (a site's relay key, a device key) are kept once imported. Public keys
 * come in as JWK, which is quick, and are kept too (a bounded number of each).
 */
const x25519Privates = new Map<string, crypto.KeyObject>();
const x25519Publics = new Map<string, crypto.KeyObject>();

function remember(cache: Map<string, crypto.KeyObject>, key: string, make: () => crypto.KeyObject, max: number): crypto.KeyObject {
  let value = cache.get(key);
  if (!value) {
    value = make();
    if (cache.size >= max) cache.delete(cache.keys().next().value!);
    cache.set(key, value);
  }
  return value;
}

const x25519Private = (secret: Uint8Array) =>
  remember(x25519Privates, Buffer.from(secret).toString('base64url'), () => crypto.createPrivateKey({ key: Buffer.concat([PKCS8_X25519, secret]), format: 'der', type: 'pkcs8' }), 64);
/**
 * Public keys seen once, by value only. Most public keys that come to an agreement are one-time
 * keys (every DM and relay envelope opened brings its own) that never come back: a KeyObject is
 * kept only for a key seen a second time (a device's or a site's), so a vault catching up on
 * 10,000 DMs does not keep 10,000 native key handles for the garbage collector to sweep.
 */
const x25519SeenOnce = new Set<string>();
const importX25519Public = (x: string) => crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
const x25519Public = (publicKey: Uint8Array) => {
  const x = Buffer.from(publicKey).toString('base64url');
  const kept = x25519Publics.get(x);
  if (kept) return kept;
  if (!x25519SeenOnce.has(x)) {
    if (x25519SeenOnce.size >= 10_000) x25519SeenOnce.clear();
    x25519SeenOnce.add(x);
    return importX25519Public(x);
  }
  x25519SeenOnce.delete(x);
  return remember(x25519Publics, x, () => importX25519Public(x), 10_000);
};
const rawPublic = (key: crypto.KeyObject) => new Uint8Array(Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url'));

export const nodeX25519: X25519 = {
  publicKey: (secret) => rawPublic(crypto.createPublicKey(x25519Private(secret))),
  sharedSecret: (secret, publicKey) => new Uint8Array(crypto.diffieHellman({ privateKey: x25519Private(secret), publicKey: x25519Public(publicKey) })),
  generate: () => {
    // The public key comes out encoded (as JWK) by the generating call itself, never exported from
    // its KeyObject afterwards. Node 20 holds a key's lock while it builds a JWK export, and a
    // garbage collection at that moment may destroy the job that generated the key, which takes
    // the same lock: the process then waits on itself forever (seen as a site frozen mid-test, main
    // thread in ~KeyGenJob under ExportJWKEdKey). Inside the call, its own job is still in use.
    const { privateKey, publicKey } = crypto.generateKeyPairSync('x25519', { publicKeyEncoding: { format: 'jwk' } } as unknown as crypto.X25519KeyPairKeyObjectOptions) as unknown as { privateKey: crypto.KeyObject; publicKey: crypto.JsonWebKey };
    return { publicKey: new Uint8Array(Buffer.from(publicKey.x!, 'base64url')), sharedSecret: (peer) => new Uint8Array(crypto.diffieHellman({ privateKey, publicKey: x25519Public(peer) })) };
  },
};
