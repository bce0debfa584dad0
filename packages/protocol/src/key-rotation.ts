import { z } from 'zod';
import { canonicalize } from './canonical-json.js';
import { fromBase64url, toBase64url, utf8 } from './encoding.js';
import { isAcceptableSigningKey, isKeyText, type Signer, type VerifyFn } from './keys.js';
import { ExactTimeSchema } from './time.js';

/**
 * A site key rotation notice (PROTOCOL.md §3 "Key lifecycle"): the old site key signs the
 * canonical JSON of {"t":"hearth-site-key-rotation-v1","address","previous","key","at"}, and the
 * user's profile publishes it as `siteKeyRotation: {previous, at, sig}` beside the new `siteKey`.
 * A receiver that holds the old key switches to the new one at once when the notice verifies;
 * without it, a changed key is trusted only after the old one's cache lifetime has run out.
 */
export const SiteKeyRotationSchema = z.strictObject({
  previous: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  at: ExactTimeSchema,
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
});
export type SiteKeyRotation = z.infer<typeof SiteKeyRotationSchema>;

export function siteKeyRotationBytes(fields: { address: string; previous: string; key: string; at: string }): Uint8Array {
  return utf8(canonicalize({ t: 'hearth-site-key-rotation-v1', address: fields.address, previous: fields.previous, key: fields.key, at: fields.at }));
}

/** Signs a rotation notice with the old key (`oldSigner`), vouching for `key`. */
export function signSiteKeyRotation(oldSigner: Signer, fields: { address: string; key: string; at: string }): SiteKeyRotation {
  const sig = toBase64url(oldSigner.sign(siteKeyRotationBytes({ ...fields, previous: oldSigner.publicKey })));
  return { previous: oldSigner.publicKey, at: fields.at, sig };
}

/** Whether `notice` (as published, unchecked) proves that `previous` handed over to `key` for `address`. */
export function verifySiteKeyRotation(notice: unknown, expected: { address: string; previous: string; key: string }, verify: VerifyFn): boolean {
  const parsed = SiteKeyRotationSchema.safeParse(notice);
  if (!parsed.success || parsed.data.previous !== expected.previous) return false;
  if (!isKeyText(expected.key) || !isAcceptableSigningKey(expected.key)) return false;
  const bytes = siteKeyRotationBytes({ address: expected.address, previous: expected.previous, key: expected.key, at: parsed.data.at });
  return verify(bytes, fromBase64url(parsed.data.sig), expected.previous);
}
