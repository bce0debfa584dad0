import { z } from 'zod';
import { canonicalize } from './canonical-json.js';
import { openBytes, sealBytes, signByDevice, verifySignedByDevice, type DeviceRecord, type DeviceSecrets, type SealDomain } from './e2e.js';
import { fromUtf8, utf8 } from './encoding.js';
import { CryptoError } from './errors.js';
import type { DmCiphertext } from './messages.js';

/**
 * Call signalling between two browsers (PROTOCOL.md §8). Every signal travels as a `call.signal`
 * envelope through both people's sites, sealed to the other side's devices and signed by the
 * sending device, like a DM: the sites route it and see who calls whom, but not the SDP (which
 * holds IP addresses) nor the ICE candidates.
 */
export const CALL_DOMAIN: SealDomain = { wrapInfo: utf8('hearth-call-v1 wrap'), bodyAad: utf8('hearth-call-v1 body') };

export const CALL_KINDS = ['offer', 'answer', 'ice', 'accept', 'decline', 'busy', 'hangup'] as const;
export type CallKind = (typeof CALL_KINDS)[number];

/** ICE candidates in one `ice` signal at most: a browser finds a handful per network interface. */
export const MAX_ICE_PER_SIGNAL = 20;

const DeviceRecordSchema = z.strictObject({ id: z.string().max(64), signKey: z.string().max(100), dhKey: z.string().max(100), cert: z.string().max(200) });

const IceCandidateSchema = z.strictObject({ candidate: z.string().max(1000), sdpMid: z.string().max(64).nullable(), sdpMLineIndex: z.number().int().min(0).max(64).nullable() });

export const CallSignalSchema = z.strictObject({
  t: z.literal('hearth-call-v1'),
  callId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  kind: z.enum(CALL_KINDS),
  from: z.string().max(300),
  to: z.string().max(300),
  fromDevice: z.string().max(64),
  sentAt: z.string().max(40),
  /** offer/answer: the SDP; ice: a batch of candidates (or one, as older browsers send); offer also says whether video is on. */
  sdp: z.string().max(30_000).optional(),
  candidate: IceCandidateSchema.optional(),
  candidates: z.array(IceCandidateSchema).min(1).max(MAX_ICE_PER_SIGNAL).optional(),
  video: z.boolean().optional(),
  /**
   * offer/answer: the sending device's record with its certificate, so the other side can check
   * this signal (under the identity key it has pinned) and answer it without looking the sender up.
   */
  device: DeviceRecordSchema.optional(),
  sig: z.string().max(100),
});
export type CallSignal = z.infer<typeof CallSignalSchema>;
export type UnsignedCallSignal = Omit<CallSignal, 't' | 'sig' | 'fromDevice' | 'sentAt'>;

export function sealCallSignal(sender: DeviceSecrets, recipients: Array<Pick<DeviceRecord, 'id' | 'dhKey'>>, signal: UnsignedCallSignal): DmCiphertext {
  const signed = signByDevice(sender, { t: 'hearth-call-v1' as const, ...signal, fromDevice: sender.id, sentAt: new Date().toISOString() });
  return sealBytes(utf8(canonicalize(signed)), recipients, CALL_DOMAIN);
}

/**
 * Opens a signal for this device; the caller checks the sender device (certified by the sender's
 * identity key) with `senderKey`, which also sees the opened signal (and the device record it may carry).
 */
export function openCallSignal(sealed: DmCiphertext, me: DeviceSecrets, senderKey: (fromDevice: string, signal: CallSignal) => string | undefined): CallSignal {
  let signal: CallSignal;
  try {
    signal = CallSignalSchema.parse(JSON.parse(fromUtf8(openBytes(sealed, me, CALL_DOMAIN))));
  } catch (error) {
    if (error instanceof CryptoError) throw error;
    throw new CryptoError('decrypt_failed', 'the call signal has the wrong shape');
  }
  const key = senderKey(signal.fromDevice, signal);
  if (!key) throw new CryptoError('unknown_device', `the call signal was signed by device ${signal.fromDevice}, which is not certified`);
  if (!verifySignedByDevice(signal, key)) throw new CryptoError('bad_signature', 'the call signal has a signature that does not verify');
  return signal;
}
