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

// The fixed DER headers of an X25519 private key (PKCS#8) and public key (SPKI), RFC 8410.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

const x25519Private = (secret: Uint8Array) => crypto.createPrivateKey({ key: Buffer.concat([PKCS8_X25519, secret]), format: 'der', type: 'pkcs8' });

export const nodeX25519: X25519 = {
  publicKey: (secret) => new Uint8Array(crypto.createPublicKey(x25519Private(secret)).export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length)),
  sharedSecret: (secret, publicKey) =>
    new Uint8Array(
      crypto.diffieHellman({
        privateKey: x25519Private(secret),
        publicKey: crypto.createPublicKey({ key: Buffer.concat([SPKI_X25519, publicKey]), format: 'der', type: 'spki' }),
      }),
    ),
};
