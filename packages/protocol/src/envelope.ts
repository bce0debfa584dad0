import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { assertHost, assertPort, assertUsername, type Address } from './address.js';
import { canonicalize } from './canonical-json.js';
import { fromBase64url, toBase64url, utf8 } from './encoding.js';
import { EnvelopeError } from './errors.js';
import { parseLimitedJson, utf8Length } from './json-limits.js';
import { fastSafeParse } from './schema-guard.js';
import { nobleVerify, type Signer, type VerifyFn } from './keys.js';
import { LIMITS } from './limits.js';
import { CREATED_AT_SLACK_MS, ExactTimeSchema } from './time.js';
import { isEnvelopeType, MESSAGE_SCHEMAS, type EnvelopeType, type MessageData } from './messages.js';

export const PROTOCOL_VERSION = 1;

export interface Envelope<T extends EnvelopeType = EnvelopeType> {
  v: number;
  id: string;
  type: T;
  from: Address;
  to: Address;
  ts: string;
  data: MessageData[T];
  sig: string;
}

export type UnsignedEnvelope<T extends EnvelopeType = EnvelopeType> = Omit<Envelope<T>, 'sig'>;

const AddressSchema = z.strictObject({
  host: z.string().max(253),
  port: z.number().int(),
  username: z.string().max(32),
});

const EnvelopeShape = z.strictObject({
  v: z.number().int(),
  id: z.uuid({ version: 'v7' }),
  type: z.string().max(64),
  from: AddressSchema,
  to: AddressSchema,
  ts: ExactTimeSchema,
  data: z.record(z.string(), z.unknown()),
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'sig is a 64-byte Ed25519 signature in base64url'),
});

/**
 * Random bytes for ids, drawn 4 KB at a time: the system's generator took 15 µs a call on a busy
 * site (a sixtieth of a DM's cost there), and uuid asks it once per id.
 */
const idRandom = new Uint8Array(4096);
let idRandomAt = idRandom.length;

/** The last id's time and counter: ids made in one millisecond still sort in the order they were made. */
const idClock = { msecs: -Infinity, seq: 0 };

/**
 * A UUIDv7 (RFC 9562), made by the uuid package. Given its random bytes it keeps no state of
 * its own, so the counter it keeps when it draws them itself is kept here, the same way
 * (RFC 9562 §6.2, method 1: a counter seeded at random each millisecond).
 */
export function newEnvelopeId(): string {
  if (idRandomAt + 16 > idRandom.length) {
    crypto.getRandomValues(idRandom);
    idRandomAt = 0;
  }
  const random = idRandom.subarray(idRandomAt, (idRandomAt += 16));
  const now = Date.now();
  if (now > idClock.msecs) {
    idClock.msecs = now;
    idClock.seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    idClock.seq = (idClock.seq + 1) | 0;
    if (idClock.seq === 0) idClock.msecs++;
  }
  return uuidv7({ random, msecs: idClock.msecs, seq: idClock.seq });
}

/** The bytes the signature covers: RFC 8785 canonical JSON of every field but `sig`. */
export function signingBytes(envelope: UnsignedEnvelope | Envelope): Uint8Array {
  const { sig: _sig, ...rest } = envelope as Envelope;
  return utf8(canonicalize(rest));
}

export function createEnvelope<T extends EnvelopeType>(
  fields: { type: T; from: Address; to: Address; data: MessageData[T]; id?: string; ts?: string },
  signer: Signer,
): Envelope<T> {
  const unsigned: UnsignedEnvelope<T> = {
    v: PROTOCOL_VERSION,
    id: fields.id ?? newEnvelopeId(),
    type: fields.type,
    from: { host: fields.from.host, port: fields.from.port, username: fields.from.username },
    to: { host: fields.to.host, port: fields.to.port, username: fields.to.username },
    ts: fields.ts ?? new Date().toISOString(),
    data: fields.data,
  };
  const signed = signingBytes(unsigned);
  const sig = toBase64url(signer.sign(signed));
  const envelope = { ...unsigned, sig } as Envelope<T>;
  // The envelope's JSON has the members of its canonical form plus `,"sig":"…"`, and canonical
  // JSON writes each member as JSON.stringify does, so its size is known without writing it out.
  const size = signed.length + ',"sig":""'.length + sig.length;
  const limit = envelopeLimit(envelope.type);
  if (size > limit) throw new EnvelopeError('too_large', `envelope is ${size} bytes; the limit is ${limit}`, 413);
  return envelope;
}

/** The largest envelope of a type: a relay envelope carries a whole sealed envelope. */
export function envelopeLimit(type: string): number {
  return type === 'relay' ? LIMITS.relayEnvelopeBytes : LIMITS.envelopeBytes;
}

/** Parses one envelope from JSON text or raw UTF-8 bytes, enforcing size, depth and strict JSON before the schema. */
export function parseEnvelopeText(text: string | Uint8Array): Envelope {
  const value = parseLimitedJson(text, { maxBytes: LIMITS.relayEnvelopeBytes, maxDepth: LIMITS.envelopeDepth });
  // Each type's own limit, before the schema: only a relay envelope may be larger than LIMITS.envelopeBytes.
  const size = typeof text === 'string' ? utf8Length(text) : text.byteLength;
  const type = (value as { type?: unknown } | null)?.type;
  const limit = envelopeLimit(typeof type === 'string' ? type : '');
  if (size > limit) throw new EnvelopeError('too_large', `${typeof type === 'string' && type === 'relay' ? 'a relay envelope' : 'an envelope'} is at most ${limit} bytes; this one is ${size}`, 413);
  return validateEnvelope(value);
}

/**
 * Checks shape, version, type and the type's data schema. It does not check the
 * signature: that needs the sender's key, which the caller looks up (verifyEnvelopeSignature).
 */
export function validateEnvelope(value: unknown): Envelope {
  const shape = fastSafeParse(EnvelopeShape, value);
  if (!shape.success) {
    throw new EnvelopeError('invalid_envelope', `envelope is malformed: ${describeIssues(shape.error)}`);
  }
  const env = shape.data;
  if (env.v !== PROTOCOL_VERSION) {
    throw new EnvelopeError('unsupported_version', `protocol version ${env.v} is not supported; this site speaks ${PROTOCOL_VERSION}`);
  }
  if (!isEnvelopeType(env.type)) throw new EnvelopeError('unknown_type', `envelope type "${env.type.slice(0, 64)}" is not known`);
  try {
    for (const a of [env.from, env.to]) {
      assertUsername(a.username);
      assertHost(a.host);
      assertPort(a.port);
    }
  } catch (error) {
    throw new EnvelopeError('invalid_address', `envelope address: ${(error as Error).message}`);
  }
  const data = fastSafeParse(MESSAGE_SCHEMAS[env.type] as z.ZodType<MessageData[EnvelopeType]>, env.data);
  if (!data.success) {
    throw new EnvelopeError('invalid_data', `"${env.type}" data is malformed: ${describeIssues(data.error)}`);
  }
  const created = createdAtOf(env.type, data.data);
  if (created !== undefined && Date.parse(created) - Date.parse(env.ts) > CREATED_AT_SLACK_MS) {
    throw new EnvelopeError('invalid_data', `createdAt ${created} is later than the envelope's ts ${env.ts}: a post or comment cannot be dated after it was sent`);
  }
  return { ...env, type: env.type, data: data.data } as Envelope;
}

/** The author-chosen time inside a message, which must not be later than the envelope that carries it. */
function createdAtOf(type: EnvelopeType, data: unknown): string | undefined {
  const d = data as { post?: { createdAt?: string }; comment?: { createdAt?: string } };
  if (type === 'post.create') return d.post?.createdAt;
  if (type === 'comment.create') return d.comment?.createdAt;
  return undefined;
}

export function verifyEnvelopeSignature(envelope: Envelope, publicKey: string, verify: VerifyFn = nobleVerify): boolean {
  let signature: Uint8Array;
  try {
    signature = fromBase64url(envelope.sig);
  } catch {
    return false;
  }
  return verify(signingBytes(envelope), signature, publicKey);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/** How far an envelope's `ts` may be from the receiver's clock (PROTOCOL.md §4). */
export const FRESHNESS = {
  /** Clocks disagree a little; more than this ahead is a broken or lying sender. */
  maxFutureMs: 10 * 60 * 1000,
  /** Senders retry for 7 days; anything older than twice that is refused, so ids need only be remembered that long. */
  maxAgeMs: 14 * 24 * 60 * 60 * 1000,
} as const;

/** null when `ts` is acceptable at `now`, else the reason. */
export function checkFreshness(ts: string, now: number): { code: 'clock_skew' | 'expired'; message: string } | null {
  const at = Date.parse(ts);
  // The clock's text only for a refusal: writing it for every envelope cost 2-3 µs each.
  const clock = () => new Date(now).toISOString();
  if (at - now > FRESHNESS.maxFutureMs) return { code: 'clock_skew', message: `envelope time ${ts} is more than 10 minutes ahead of this site's clock, which reads ${clock()}` };
  if (now - at > FRESHNESS.maxAgeMs) return { code: 'expired', message: `envelope time ${ts} is more than 14 days before this site's clock, which reads ${clock()}` };
  return null;
}
