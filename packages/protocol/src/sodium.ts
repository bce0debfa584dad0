import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The part of libsodium's binding (sodium-native) that Hearth uses. sodium-native ships prebuilt
 * addons for Linux, macOS and Windows on x64 and arm64, so nothing is compiled at install time.
 */
export interface SodiumBinding {
  crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  crypto_scalarmult(shared: Uint8Array, secret: Uint8Array, publicKey: Uint8Array): void;
  crypto_scalarmult_base(publicKey: Uint8Array, secret: Uint8Array): void;
  crypto_aead_xchacha20poly1305_ietf_encrypt(sealed: Uint8Array, plain: Uint8Array, aad: Uint8Array | null, nsec: null, nonce: Uint8Array, key: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(plain: Uint8Array, nsec: null, sealed: Uint8Array, aad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): number;
  randombytes_buf(into: Uint8Array): void;
}

/**
 * libsodium when it loads; otherwise why not: on a platform without a prebuilt addon, or when the
 * operator sets HEARTH_CRYPTO=openssl. Its Ed25519 checks run about 2.4x faster than OpenSSL's
 * and its signing 2x (measured here: 45 against 110 us per check, 20 against 42 us per
 * signature), which is most of a site's and a vault's CPU per message.
 */
export function loadSodium(): { binding: SodiumBinding; reason?: undefined } | { binding?: undefined; reason: string } {
  if (process.env.HEARTH_CRYPTO === 'openssl') return { reason: 'HEARTH_CRYPTO=openssl' };
  try {
    const require = createRequire(import.meta.url);
    // The prebuilt addon for this platform, loaded straight: sodium-native's own loader
    // (require-addon) resolves the same file but costs a site about 13 ms and 5 MB more at
    // start. Its loader stays the way in for layouts this does not know.
    const prebuilt = path.join(path.dirname(require.resolve('sodium-native/package.json')), 'prebuilds', `${process.platform}-${process.arch}`, 'sodium-native.node');
    return { binding: require(fs.existsSync(prebuilt) ? prebuilt : 'sodium-native') as SodiumBinding };
  } catch (error) {
    return { reason: (error as Error).message.split('\n')[0]! };
  }
}
