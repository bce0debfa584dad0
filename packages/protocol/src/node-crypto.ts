import crypto from 'node:crypto';
import { hchacha } from '@noble/ciphers/chacha.js';
import { concatBytes } from './encoding.js';
import { decodeKey, type Signer, type SigningKeyPair, type Symmetric, type VerifyFn, type X25519 } from './keys.js';
import { loadSodium, type SodiumBinding } from './sodium.js';

/**
 * Native crypto behind the protocol's crypto interfaces, for Node processes: the backend's hot
 * path, the vault and the CLI. libsodium (sodium-native) when it loads, OpenSSL (node:crypto)
 * otherwise; both roughly 10-60x faster than pure JS, with the same wire format (raw 32-byte keys,
 * 64-byte signatures, the same sealed bytes). Never imported by browser code: it is only
 * reachable as `@hearth/protocol/node`. `nodeSigner`, `nodeVerify`, `nodeX25519` and
 * `nodeSymmetric` are the chosen library's; the `openssl*` and `sodium*` ones stay exported so
 * that tests hold each to the other and to @noble.
 */
export function opensslSigner(keys: SigningKeyPair): Signer {
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

export const opensslVerify: VerifyFn = (message, signature, publicKey) => {
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

function remember<T>(cache: Map<string, T>, key: string, make: () => T, max: number): T {
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

/** The sizes XChaCha20-Poly1305 takes, checked the same way whichever library seals. */
function checkXchachaSizes(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== 32) throw new Error('XChaCha20-Poly1305 needs a 32-byte key');
  if (nonce.length !== 24) throw new Error('XChaCha20-Poly1305 needs a 24-byte nonce');
}

/** "expand 32-byte k", the ChaCha constant, as little-endian words. */
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
const TAG_BYTES = 16;

/**
 * XChaCha20-Poly1305 as draft-irtf-cfrg-xchacha specifies it: HChaCha20 (@noble's) turns the key
 * and the first 16 bytes of the nonce into a subkey, and OpenSSL's ChaCha20-Poly1305 (RFC 8439)
 * seals with that subkey and a 12-byte nonce of four zero bytes and the nonce's last 8. The same
 * bytes as @noble's xchacha20poly1305 (tests compare them), for messages under 256 GB.
 */
function xchachaParts(key: Uint8Array, nonce: Uint8Array): { subkey: Buffer; iv: Buffer } {
  checkXchachaSizes(key, nonce);
  const k = Buffer.from(key.buffer, key.byteOffset, 32);
  const n = Buffer.from(nonce.buffer, nonce.byteOffset, 24);
  const words = new Uint32Array(8);
  for (let i = 0; i < 8; i++) words[i] = k.readUInt32LE(i * 4);
  const counterAndNonce = new Uint32Array([n.readUInt32LE(0), n.readUInt32LE(4), n.readUInt32LE(8), n.readUInt32LE(12)]);
  const out = new Uint32Array(8);
  hchacha(SIGMA, words, counterAndNonce, out);
  const subkey = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) subkey.writeUInt32LE(out[i]!, i * 4);
  const iv = Buffer.alloc(12);
  n.copy(iv, 4, 16, 24);
  return { subkey, iv };
}

export const opensslSymmetric: Symmetric = {
  xchacha20poly1305: (key, nonce, aad) => ({
    encrypt(plain) {
      const { subkey, iv } = xchachaParts(key, nonce);
      const cipher = crypto.createCipheriv('chacha20-poly1305', subkey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad, { plaintextLength: plain.length });
      const body = cipher.update(plain);
      cipher.final();
      // Bytes of their own, not a view into Node's shared pool (which a hand-off to a thread would copy whole).
      return concatBytes(body, cipher.getAuthTag());
    },
    decrypt(sealed) {
      if (sealed.length < TAG_BYTES) throw new Error('ciphertext too short');
      const { subkey, iv } = xchachaParts(key, nonce);
      const decipher = crypto.createDecipheriv('chacha20-poly1305', subkey, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad, { plaintextLength: sealed.length - TAG_BYTES });
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
      decipher.final(); // throws when the tag does not match
      return concatBytes(plain);
    },
  }),
  hkdfSha256: (ikm, salt, info, length) => new Uint8Array(crypto.hkdfSync('sha256', ikm, salt ?? new Uint8Array(0), info, length)),
};

export const opensslX25519: X25519 = {
  symmetric: opensslSymmetric,
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

/** libsodium's Ed25519, X25519 and XChaCha20-Poly1305 behind the same interfaces (HKDF stays OpenSSL's, which libsodium's binding lacks). */
export function sodiumCrypto(sodium: SodiumBinding): { signer: (keys: SigningKeyPair) => Signer; verify: VerifyFn; x25519: X25519; symmetric: Symmetric } {
  const signer = (keys: SigningKeyPair): Signer => {
    const publicKey = new Uint8Array(32);
    const secretKey = new Uint8Array(64);
    sodium.crypto_sign_seed_keypair(publicKey, secretKey, decodeKey(keys.secretKey, 'secret key'));
    return {
      publicKey: keys.publicKey,
      sign(message) {
        const signature = new Uint8Array(64);
        sodium.crypto_sign_detached(signature, message, secretKey);
        return signature;
      },
    };
  };
  // Public keys arrive as text; the decoded bytes of those seen are kept (a bounded number).
  const publicKeys = new Map<string, Uint8Array>();
  const verify: VerifyFn = (message, signature, publicKey) => {
    try {
      const key = remember(publicKeys, publicKey, () => decodeKey(publicKey, 'public key'), 10_000);
      return signature.length === 64 && sodium.crypto_sign_verify_detached(signature, message, key);
    } catch {
      return false;
    }
  };
  const publicFromSecret = (secret: Uint8Array) => {
    const publicKey = new Uint8Array(32);
    sodium.crypto_scalarmult_base(publicKey, secret);
    return publicKey;
  };
  // Throws, as OpenSSL does, when the peer's key is one of the few that make an all-zero secret.
  const agree = (secret: Uint8Array, publicKey: Uint8Array) => {
    const shared = new Uint8Array(32);
    sodium.crypto_scalarmult(shared, secret, publicKey);
    return shared;
  };
  const symmetric: Symmetric = {
    xchacha20poly1305: (key, nonce, aad) => {
      checkXchachaSizes(key, nonce);
      return {
        encrypt(plain) {
          const sealed = new Uint8Array(plain.length + TAG_BYTES);
          sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, plain, aad, null, nonce, key);
          return sealed;
        },
        decrypt(sealed) {
          if (sealed.length < TAG_BYTES) throw new Error('ciphertext too short');
          const plain = new Uint8Array(sealed.length - TAG_BYTES);
          sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, sealed, aad, nonce, key); // throws when the tag does not match
          return plain;
        },
      };
    },
    hkdfSha256: opensslSymmetric.hkdfSha256,
  };
  const x25519: X25519 = {
    symmetric,
    publicKey: publicFromSecret,
    sharedSecret: agree,
    generate() {
      const secret = new Uint8Array(32);
      sodium.randombytes_buf(secret);
      return { publicKey: publicFromSecret(secret), sharedSecret: (peer) => agree(secret, peer) };
    },
  };
  return { signer, verify, x25519, symmetric };
}

const sodiumLoad = loadSodium();
const sodium = sodiumLoad.binding ? sodiumCrypto(sodiumLoad.binding) : undefined;

/** The library doing this process's signatures and agreements, and why not libsodium when it is OpenSSL. */
export const nativeCrypto: { library: 'libsodium' | 'openssl'; reason?: string } = sodium ? { library: 'libsodium' } : { library: 'openssl', reason: sodiumLoad.reason };

export const nodeSigner: (keys: SigningKeyPair) => Signer = sodium?.signer ?? opensslSigner;
export const nodeVerify: VerifyFn = sodium?.verify ?? opensslVerify;
export const nodeX25519: X25519 = sodium?.x25519 ?? opensslX25519;
export const nodeSymmetric: Symmetric = sodium?.symmetric ?? opensslSymmetric;
