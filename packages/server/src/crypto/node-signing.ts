import crypto from 'node:crypto';

// Native Ed25519 (libsodium, or OpenSSL) lives in the protocol package (shared with the vault and the CLI).
export { nodeSigner, nodeVerify } from '@hearth/protocol/node';

export function randomToken(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

export function sha256Hex(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}
