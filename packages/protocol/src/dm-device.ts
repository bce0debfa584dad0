/**
 * What a device needs for direct messages, and nothing else (the browser loads this lazily):
 * the DM client, device enrolment (keys, certificate, key backup) and fingerprints.
 */
export * from './dm-client.js';
export { certifyDevice, verifyDeviceCertificate, decryptKeyBackup, encryptKeyBackup, fingerprint, safetyNumber, type DeviceSecrets, type KeyBackup } from './e2e.js';
export { generateAgreementKeyPair, generateSigningKeyPair, signingPublicKey, type SigningKeyPair } from './keys.js';
export { fromBase64url, toBase64url } from './encoding.js';
export { sealCallSignal, openCallSignal, MAX_ICE_PER_SIGNAL, type CallSignal, type CallKind, type UnsignedCallSignal } from './call.js';
export { certifiedDevices, type DeviceRecord, type PeerKeys } from './e2e.js';
export { CryptoError } from './errors.js';
export { webCryptoBatch, type BatchCrypto } from './batch-crypto.js';
