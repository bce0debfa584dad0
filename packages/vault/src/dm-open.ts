import { CryptoError, decryptDm, verifyDmPlaintextSignature, type DeviceSecrets, type DmCiphertext, type DmPlaintext } from '@hearth/protocol';
import { nodeVerify, nodeX25519 } from '@hearth/protocol/node';

/** One queued DM to open, with the sending person's device keys when the vault knows them already. */
export interface OpenJob {
  message: DmCiphertext;
  /** Device id -> signing key of the person the DM should come from; the signature is checked here when its device is listed. */
  signKeys?: Map<string, string>;
}

/**
 * What opening found: the plaintext, and the signature's verdict under the key that was checked
 * (the caller still decides which key is right); or why the DM could not be opened.
 */
export type Opened = { plain: DmPlaintext; verified?: { signKey: string; ok: boolean } } | { error: { code: string; message: string } };

/**
 * Decrypts a DM for the vault's device and checks its signature when the sender's key is given:
 * the two expensive steps of storing a DM (an X25519 agreement and an Ed25519 check), done
 * wherever the caller likes, on a worker thread or in place.
 */
export function openJob(job: OpenJob, device: DeviceSecrets): Opened {
  let plain: DmPlaintext;
  try {
    plain = decryptDm(job.message, device, nodeX25519);
  } catch (error) {
    if (error instanceof CryptoError) return { error: { code: error.code, message: error.message } };
    throw error;
  }
  const signKey = job.signKeys?.get(plain.fromDevice);
  return signKey ? { plain, verified: { signKey, ok: verifyDmPlaintextSignature(plain, signKey, nodeVerify) } } : { plain };
}
