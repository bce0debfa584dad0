import { ed25519 } from '@noble/curves/ed25519.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { canonicalize } from './canonical-json.js';
import { concatBytes, fromBase64url, fromUtf8, toBase64url, utf8 } from './encoding.js';
import { CryptoError } from './errors.js';
import { decodeKey, nobleSymmetric, nobleVerify, nobleX25519, type AgreementKeyPair, type SigningKeyPair, type Symmetric, type VerifyFn, type X25519 } from './keys.js';
import { LIMITS } from './limits.js';
import type { DmCiphertext } from './messages.js';

/**
 * End-to-end encryption of direct messages, built from audited primitives (@noble, or libsodium
 * or OpenSSL where an X25519 implementation brings them: see Symmetric in keys.ts):
 *   - a fresh 32-byte content key K encrypts the body once with XChaCha20-Poly1305;
 *   - K is wrapped for every recipient device: X25519(ephemeral, device) -> HKDF-SHA256 ->
 *     XChaCha20-Poly1305, one ephemeral key per message;
 *   - the plaintext inside carries a signature by the sending *device*, and devices are
 *     certified by the user's *identity key*, which only devices hold. A backend that
 *     holds the site key can therefore neither read a DM nor make one a device accepts.
 * PROTOCOL.md specifies the construction byte for byte; test-vectors/ pins it.
 */

export const DM_ALG = 'x25519-hkdf-sha256-xchacha20poly1305' as const;
const WRAP_INFO = utf8('hearth-dm-v1 wrap');
const BODY_AAD = utf8('hearth-dm-v1 body');

/** A device as its owner's site publishes it. */
export interface DeviceRecord {
  id: string;
  signKey: string;
  dhKey: string;
  /** Identity-key signature over deviceCertificateBytes(address, device). */
  cert: string;
}

/** The device's own secrets; they never leave the device. */
export interface DeviceSecrets {
  id: string;
  sign: SigningKeyPair;
  dh: AgreementKeyPair;
}

export function deviceCertificateBytes(address: string, device: Pick<DeviceRecord, 'id' | 'signKey' | 'dhKey'>): Uint8Array {
  return utf8(canonicalize({ t: 'hearth-device-v1', address, device: device.id, signKey: device.signKey, dhKey: device.dhKey }));
}

export function certifyDevice(identity: SigningKeyPair, address: string, device: Pick<DeviceRecord, 'id' | 'signKey' | 'dhKey'>): DeviceRecord {
  const cert = toBase64url(ed25519.sign(deviceCertificateBytes(address, device), decodeKey(identity.secretKey, 'identity key')));
  return { id: device.id, signKey: device.signKey, dhKey: device.dhKey, cert };
}

export function verifyDeviceCertificate(identityKey: string, address: string, device: DeviceRecord, verify: VerifyFn = nobleVerify): boolean {
  try {
    return verify(deviceCertificateBytes(address, device), fromBase64url(device.cert), identityKey);
  } catch {
    return false;
  }
}

/** What a DM says, signed by the sending device. */
export const DmPlaintextSchema = z.strictObject({
  t: z.literal('hearth-dm-v1'),
  id: z.string().min(1).max(64),
  from: z.string().max(300),
  fromDevice: z.string().max(64),
  to: z.string().max(300),
  sentAt: z.string().max(40),
  text: z.string().min(1).max(LIMITS.dmChars),
  sig: z.string().max(100),
});
export type DmPlaintext = z.infer<typeof DmPlaintextSchema>;

/**
 * What devices sign (DMs, vault requests, call signals): an object, as canonical JSON, with the
 * signature added as its `sig` member. Verifying removes `sig` and checks the rest.
 */
export function signByDevice<T extends object>(device: DeviceSecrets, unsigned: T): T & { sig: string } {
  const sig = toBase64url(ed25519.sign(utf8(canonicalize(unsigned)), decodeKey(device.sign.secretKey, 'device key')));
  return { ...unsigned, sig };
}

/** What a device signature covers and the signature itself (throws when `sig` is not base64url). */
export function deviceSignedParts(signed: { sig: string }): { message: Uint8Array; signature: Uint8Array } {
  const { sig, ...unsigned } = signed;
  return { message: utf8(canonicalize(unsigned)), signature: fromBase64url(sig) };
}

export function verifySignedByDevice(signed: { sig: string }, deviceSignKey: string, verify: VerifyFn = nobleVerify): boolean {
  try {
    const { message, signature } = deviceSignedParts(signed);
    return verify(message, signature, deviceSignKey);
  } catch {
    return false;
  }
}

export function signDmPlaintext(device: DeviceSecrets, body: Omit<DmPlaintext, 't' | 'sig' | 'fromDevice'>): DmPlaintext {
  return signByDevice(device, { t: 'hearth-dm-v1' as const, ...body, fromDevice: device.id });
}

export function verifyDmPlaintextSignature(plain: DmPlaintext, deviceSignKey: string, verify: VerifyFn = nobleVerify): boolean {
  return verifySignedByDevice(plain, deviceSignKey, verify);
}

/**
 * The sealing both DMs and vault requests use, with a domain label of their own so that a
 * ciphertext made for one purpose never opens as the other.
 */
export interface SealDomain {
  wrapInfo: Uint8Array;
  bodyAad: Uint8Array;
}
const DM_DOMAIN: SealDomain = { wrapInfo: WRAP_INFO, bodyAad: BODY_AAD };

export function sealBytes(
  body: Uint8Array,
  recipients: Array<Pick<DeviceRecord, 'id' | 'dhKey'>>,
  domain: SealDomain,
  random: (n: number) => Uint8Array = randomBytes,
  x: X25519 = nobleX25519,
): DmCiphertext {
  if (recipients.length === 0) throw new CryptoError('no_recipients', 'a DM needs at least one recipient device');
  if (recipients.length > LIMITS.dmRecipients) throw new CryptoError('too_many_recipients', `a DM may go to at most ${LIMITS.dmRecipients} devices`);
  const sym = x.symmetric ?? nobleSymmetric;
  const contentKey = random(32);
  const nonce = random(24);
  const ciphertext = sym.xchacha20poly1305(contentKey, nonce, domain.bodyAad).encrypt(body);
  // The one-time key: from the implementation when it has a faster way and nothing asks for
  // chosen randomness (test vectors pass their own `random`).
  const ephemeral = random === randomBytes && x.generate ? x.generate() : fromSecret(random(32), x);
  const ephemeralPublic = ephemeral.publicKey;
  const wrapped = recipients.map((device) => {
    const devicePublic = decodeKey(device.dhKey, 'device key');
    const wrapKey = deriveWrapKey(sym, ephemeral.sharedSecret(devicePublic), ephemeralPublic, devicePublic, domain.wrapInfo);
    const wrapNonce = random(24);
    return {
      device: device.id,
      nonce: toBase64url(wrapNonce),
      wrappedKey: toBase64url(sym.xchacha20poly1305(wrapKey, wrapNonce, utf8(device.id)).encrypt(contentKey)),
    };
  });
  return { alg: DM_ALG, ephemeralKey: toBase64url(ephemeralPublic), nonce: toBase64url(nonce), ciphertext: toBase64url(ciphertext), recipients: wrapped };
}

function fromSecret(secret: Uint8Array, x: X25519) {
  return { publicKey: x.publicKey(secret), sharedSecret: (publicKey: Uint8Array) => x.sharedSecret(secret, publicKey) };
}

/** Opens a sealed body for one device. Throws CryptoError when it is not for it or was tampered with. */
export function openBytes(message: DmCiphertext, device: DeviceSecrets, domain: SealDomain, x: X25519 = nobleX25519): Uint8Array {
  const entry = message.recipients.find((r) => r.device === device.id);
  if (!entry) throw new CryptoError('not_a_recipient', 'this message was not encrypted to this device');
  try {
    const devicePublic = decodeKey(device.dh.publicKey, 'device key');
    const ephemeralPublic = decodeKey(message.ephemeralKey, 'ephemeral key');
    const shared = x.sharedSecret(decodeKey(device.dh.secretKey, 'device key'), ephemeralPublic);
    const sym = x.symmetric ?? nobleSymmetric;
    const wrapKey = deriveWrapKey(sym, shared, ephemeralPublic, devicePublic, domain.wrapInfo);
    const contentKey = sym.xchacha20poly1305(wrapKey, fromBase64url(entry.nonce), utf8(device.id)).decrypt(fromBase64url(entry.wrappedKey));
    return sym.xchacha20poly1305(contentKey, fromBase64url(message.nonce), domain.bodyAad).decrypt(fromBase64url(message.ciphertext));
  } catch {
    throw new CryptoError('decrypt_failed', 'message could not be decrypted: wrong key or tampered ciphertext');
  }
}

export function encryptDm(plain: DmPlaintext, recipients: Array<Pick<DeviceRecord, 'id' | 'dhKey'>>, random: (n: number) => Uint8Array = randomBytes, x: X25519 = nobleX25519): DmCiphertext {
  return sealBytes(utf8(canonicalize(plain)), recipients, DM_DOMAIN, random, x);
}

/** Decrypts for one device. Throws CryptoError when the DM is not for it or was tampered with. */
export function decryptDm(message: DmCiphertext, device: DeviceSecrets, x: X25519 = nobleX25519): DmPlaintext {
  const body = openBytes(message, device, DM_DOMAIN, x);
  let parsed;
  try {
    parsed = DmPlaintextSchema.safeParse(JSON.parse(fromUtf8(body)));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) throw new CryptoError('decrypt_failed', 'message could not be decrypted: wrong key or tampered ciphertext');
  return parsed.data;
}

/** Only the part of a DM one device needs: the body and that device's wrapped key. */
export function forDevice(message: DmCiphertext, deviceId: string): DmCiphertext | undefined {
  const entry = message.recipients.find((r) => r.device === deviceId);
  return entry ? { ...message, recipients: [entry] } : undefined;
}

function deriveWrapKey(sym: Symmetric, shared: Uint8Array, ephemeralPublic: Uint8Array, devicePublic: Uint8Array, info: Uint8Array): Uint8Array {
  return sym.hkdfSha256(shared, concatBytes(ephemeralPublic, devicePublic), info, 32);
}

/**
 * A user's fingerprint: 30 digits in six groups, from SHA-256 over the address and the
 * identity key. Two people compare their "safety number" (both fingerprints, sorted) out of band.
 */
export function fingerprint(address: string, identityKey: string): string {
  const digest = sha256(concatBytes(utf8('hearth-fingerprint-v1\n'), utf8(address), utf8('\n'), decodeKey(identityKey, 'identity key')));
  const groups: string[] = [];
  for (let i = 0; i < 6; i++) {
    let n = 0;
    for (let j = 0; j < 5; j++) n = n * 256 + digest[i * 5 + j]!;
    groups.push(String(n % 100000).padStart(5, '0'));
  }
  return groups.join(' ');
}

export function safetyNumber(a: { address: string; identityKey: string }, b: { address: string; identityKey: string }): string {
  return [fingerprint(a.address, a.identityKey), fingerprint(b.address, b.identityKey)].sort().join(' ');
}

/**
 * The identity key backup a site may keep: encrypted under scrypt(password), so a new
 * device of the same person can restore the identity. PROTOCOL.md states the limit of this:
 * the backend sees the password at login; the home vault (issue 4) takes this role over.
 */
export interface KeyBackup {
  alg: 'scrypt-xchacha20poly1305';
  salt: string;
  N: number;
  r: number;
  p: number;
  nonce: string;
  ciphertext: string;
}

const BACKUP_AAD = utf8('hearth-key-backup-v1');

export function encryptKeyBackup(secret: Uint8Array, password: string, params = { N: 2 ** 15, r: 8, p: 1 }): KeyBackup {
  const salt = randomBytes(16);
  const nonce = randomBytes(24);
  const key = scrypt(utf8(password), salt, { ...params, dkLen: 32 });
  const ciphertext = xchacha20poly1305(key, nonce, BACKUP_AAD).encrypt(secret);
  return { alg: 'scrypt-xchacha20poly1305', salt: toBase64url(salt), ...params, nonce: toBase64url(nonce), ciphertext: toBase64url(ciphertext) };
}

export function decryptKeyBackup(backup: KeyBackup, password: string): Uint8Array {
  if (backup.alg !== 'scrypt-xchacha20poly1305' || backup.N > 2 ** 20 || backup.r > 16 || backup.p > 4) {
    throw new CryptoError('invalid_backup', 'key backup uses unsupported parameters');
  }
  const key = scrypt(utf8(password), fromBase64url(backup.salt), { N: backup.N, r: backup.r, p: backup.p, dkLen: 32 });
  try {
    return xchacha20poly1305(key, fromBase64url(backup.nonce), BACKUP_AAD).decrypt(fromBase64url(backup.ciphertext));
  } catch {
    throw new CryptoError('wrong_password', 'the key backup could not be opened with this password');
  }
}

/** What a device knows of a person it talks to: the identity key it pinned and their devices. */
export interface PeerKeys {
  address: string;
  identityKey: string;
  devices: DeviceRecord[];
}

/** The devices of a person that carry a valid certificate from their identity key; the rest are ignored. */
export function certifiedDevices(peer: PeerKeys, verify: VerifyFn = nobleVerify): DeviceRecord[] {
  return peer.devices.filter((device) => verifyDeviceCertificate(peer.identityKey, peer.address, device, verify));
}

/**
 * Accepts a decrypted DM only if it was signed by a certified device of the person it claims
 * to come from, and is addressed within this conversation. Returns a reason when it is not.
 */
export function checkDmSender(
  plain: DmPlaintext,
  sender: PeerKeys,
  expected: { from: string; to: string },
  verify: VerifyFn = nobleVerify,
  /** The sender's certified devices when the caller has them already (they are the same for every message). */
  certified?: DeviceRecord[],
): string | null {
  if (plain.from !== expected.from) return `claims to be from ${plain.from}, but arrived from ${expected.from}`;
  if (plain.to !== expected.to) return `is addressed to ${plain.to}, not ${expected.to}`;
  const device = (certified ?? certifiedDevices(sender, verify)).find((d) => d.id === plain.fromDevice);
  if (!device) return `was signed by device ${plain.fromDevice}, which ${sender.address}'s identity key has not certified`;
  if (!verifyDmPlaintextSignature(plain, device.signKey, verify)) return 'has a signature that does not verify';
  return null;
}
