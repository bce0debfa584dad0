import { z } from 'zod';
import { canonicalize } from './canonical-json.js';
import { openBytes, sealBytes, signByDevice, verifySignedByDevice, type DeviceRecord, type DeviceSecrets, type SealDomain } from './e2e.js';
import { fromUtf8, utf8 } from './encoding.js';
import { CryptoError } from './errors.js';
import { DmCiphertextSchema, type DmCiphertext } from './messages.js';

/**
 * The home vault's link to its owner's backend (PROTOCOL.md §7). The vault dials out, so it
 * works behind NAT; it proves it is the paired vault by signing the server's fresh nonce with its
 * device key. Then the backend sends the DM ciphertexts queued for it and deletes each one once
 * the vault acks it (after the vault has committed it), so a crash on either side loses nothing:
 * whatever was not acked is sent again, and the vault stores each message id once.
 *
 *   server -> vault  challenge {nonce}
 *   vault  -> server hello     {device, sig: S_device(vaultLinkProof(origin, nonce, device))}
 *   server -> vault  ready     {address, queued, relays?}   (relays: the owner's relays, for when the site cannot be reached, §9)
 *   server -> vault  dm        {seq, id, direction, peer, message, createdAt}   (a window at a time)
 *   vault  -> server ack       {seqs}
 *   vault  -> server lookup    {rid, address}   -> server: lookup {rid, profile | error}
 *   server -> vault  request   {rid, sealed}    -> vault: response {rid, sealed | error}
 */
export const VAULT_WINDOW = 256;
/** The backend's WebSocket frame limit; history answers are paged to stay under it. */
export const VAULT_FRAME_MAX_BYTES = 128 * 1024;

const nonce = z.string().regex(/^[A-Za-z0-9_-]{22,64}$/);

/** A sealed request or answer between a device and the vault: one recipient, bodies up to a history page. */
export const SealedSchema = DmCiphertextSchema.extend({
  ciphertext: z.string().regex(/^[A-Za-z0-9_-]*$/).max(110_000),
  recipients: DmCiphertextSchema.shape.recipients.max(1),
});
const rid = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const apiError = z.strictObject({ code: z.string().max(64), message: z.string().max(500) });

export const VaultServerFrameSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('challenge'), nonce }),
  z.strictObject({
    t: z.literal('ready'),
    address: z.string().max(300),
    queued: z.number().int().min(0),
    relays: z.array(z.strictObject({ address: z.string().max(300), origin: z.string().max(300) })).max(32).optional(),
  }),
  z.strictObject({
    t: z.literal('dm'),
    seq: z.number().int().min(1),
    id: z.string().max(64),
    direction: z.enum(['in', 'out']),
    peer: z.string().max(300),
    message: DmCiphertextSchema,
    createdAt: z.string().max(40),
  }),
  z.strictObject({ t: z.literal('lookup'), rid, profile: z.unknown().optional(), error: apiError.optional() }),
  z.strictObject({ t: z.literal('request'), rid, sealed: SealedSchema }),
  z.strictObject({ t: z.literal('error'), code: z.string().max(64), message: z.string().max(500) }),
]);
export type VaultServerFrame = z.infer<typeof VaultServerFrameSchema>;

export const VaultClientFrameSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('hello'), device: z.string().max(64), sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/) }),
  z.strictObject({ t: z.literal('ack'), seqs: z.array(z.number().int().min(1)).max(VAULT_WINDOW * 4) }),
  z.strictObject({ t: z.literal('lookup'), rid, address: z.string().max(300) }),
  z.strictObject({ t: z.literal('response'), rid, sealed: SealedSchema.optional(), error: apiError.optional() }),
]);
export type VaultClientFrame = z.infer<typeof VaultClientFrameSchema>;

/** What the vault signs to open its link: the site it dials (so a proof is good for one site only), the nonce and itself. */
export function vaultLinkProofBytes(origin: string, nonceText: string, device: string): Uint8Array {
  return utf8(canonicalize({ t: 'hearth-vault-link-v1', origin, nonce: nonceText, device }));
}

/**
 * Requests between an owner's device and their vault, relayed by the backend: sealed to the
 * other side's device key (a domain of their own, so a DM never opens as one) and signed by the
 * sending device, so the backend can neither read nor forge them.
 */
export const VAULT_DOMAIN: SealDomain = { wrapInfo: utf8('hearth-vault-v1 wrap'), bodyAad: utf8('hearth-vault-v1 body') };

export const HistoryRequestSchema = z.strictObject({
  kind: z.literal('history'),
  /** Return messages after this vault sequence number (0 for the start). */
  after: z.number().int().min(0),
  limit: z.number().int().min(1).max(200),
  with: z.string().max(300).optional(),
});
export type HistoryRequest = z.infer<typeof HistoryRequestSchema>;

export const VaultMessageSchema = z.strictObject({
  id: z.string().max(64),
  from: z.string().max(300),
  to: z.string().max(300),
  sentAt: z.string().max(40),
  text: z.string().max(10_000),
});

export const HistoryResponseSchema = z.strictObject({
  kind: z.literal('history'),
  messages: z.array(z.intersection(VaultMessageSchema, z.object({ seq: z.number().int() }))).max(200),
  next: z.number().int().nullable(),
});
export type HistoryResponse = z.infer<typeof HistoryResponseSchema>;

const SignedSchema = z.strictObject({
  t: z.literal('hearth-vault-v1'),
  rid: z.string().max(64),
  fromDevice: z.string().max(64),
  toDevice: z.string().max(64),
  sentAt: z.string().max(40),
  body: z.unknown(),
  sig: z.string().max(100),
});
type Signed = z.infer<typeof SignedSchema>;

export interface OpenedVaultMessage<T> {
  rid: string;
  fromDevice: string;
  sentAt: string;
  body: T;
}

export function sealForDevice(sender: DeviceSecrets, recipient: Pick<DeviceRecord, 'id' | 'dhKey'>, rid: string, body: unknown): DmCiphertext {
  const signed = signByDevice(sender, { t: 'hearth-vault-v1' as const, rid, fromDevice: sender.id, toDevice: recipient.id, sentAt: new Date().toISOString(), body });
  return sealBytes(utf8(canonicalize(signed)), [recipient], VAULT_DOMAIN);
}

/**
 * Opens a sealed vault message for `me`, then checks it was signed by the device that
 * `senderKey` returns (the caller looks the device up and checks its certificate).
 */
export function openFromDevice<T>(
  sealed: DmCiphertext,
  me: DeviceSecrets,
  schema: z.ZodType<T>,
  senderKey: (deviceId: string) => string | undefined,
): OpenedVaultMessage<T> {
  let signed: Signed;
  try {
    signed = SignedSchema.parse(JSON.parse(fromUtf8(openBytes(sealed, me, VAULT_DOMAIN))));
  } catch (error) {
    if (error instanceof CryptoError) throw error;
    throw new CryptoError('decrypt_failed', 'the sealed message has the wrong shape');
  }
  if (signed.toDevice !== me.id) throw new CryptoError('not_a_recipient', 'this sealed message names another device');
  const signKey = senderKey(signed.fromDevice);
  if (!signKey) throw new CryptoError('unknown_device', `device ${signed.fromDevice} is not a certified device of this account`);
  if (!verifySignedByDevice(signed, signKey)) throw new CryptoError('bad_signature', 'the sealed message has a signature that does not verify');
  const body = schema.safeParse(signed.body);
  if (!body.success) throw new CryptoError('bad_request', 'the sealed message body has the wrong shape');
  return { rid: signed.rid, fromDevice: signed.fromDevice, sentAt: signed.sentAt, body: body.data };
}
