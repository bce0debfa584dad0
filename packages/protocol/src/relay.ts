import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { assertHost, assertPort, type SiteName } from './address.js';
import { canonicalize } from './canonical-json.js';
import { openBytes, sealBytes, type SealDomain } from './e2e.js';
import { fromBase64url, fromUtf8, toBase64url, utf8 } from './encoding.js';
import { CryptoError } from './errors.js';
import { decodeKey, nobleVerify, nobleX25519, type AgreementKeyPair, type Signer, type VerifyFn, type X25519 } from './keys.js';
import { LIMITS } from './limits.js';
import type { DmCiphertext } from './messages.js';

/**
 * Friends relay (PROTOCOL.md §9). A relay passes on an envelope it can neither read nor forge:
 * - the inner envelope, unchanged and signed by its sender, is sealed for the destination
 *   *site* (X25519 relay key from the site's discovery document), the DM construction with a
 *   domain label of its own, so the relay learns only the next hop, the size and the time;
 * - a relayed fetch (a follower's pull, a key lookup) is sealed the same way, and its answer
 *   comes back sealed to a one-time key of the asking site.
 */
export const RELAY_DOMAIN: SealDomain = { wrapInfo: utf8('hearth-relay-v1 wrap'), bodyAad: utf8('hearth-relay-v1 body') };
export const RELAY_FETCH_DOMAIN: SealDomain = { wrapInfo: utf8('hearth-relay-fetch-v1 wrap'), bodyAad: utf8('hearth-relay-fetch-v1 body') };
/** The recipient id inside a seal made for a site (a seal has one recipient). */
export const SITE_RECIPIENT = 'site';
/**
 * The username of a site's relay inbox: the last hop of a relay envelope is addressed to it,
 * since the relay does not know (and must not learn) the destination user. Usernames that start
 * with "_" are never given to people.
 */
export const RELAY_INBOX = '_relay';
/** The default hop limit a sender sets (LIMITS.relayHops is the most). */
export const DEFAULT_RELAY_HOPS = 1;

/**
 * A site's relay key pair, derived from its server key's secret (HKDF-SHA256 with a label of its
 * own), so every site has one without a new secret to keep or back up.
 */
export function deriveRelayKeyPair(serverSecretKey: string, x: X25519 = nobleX25519): AgreementKeyPair {
  const secret = hkdf(sha256, decodeKey(serverSecretKey, 'server key'), new Uint8Array(0), utf8('hearth-relay-key-v1'), 32);
  return { publicKey: toBase64url(x.publicKey(secret)), secretKey: toBase64url(secret) };
}

function siteRecipient(relayKey: string) {
  return [{ id: SITE_RECIPIENT, dhKey: relayKey }];
}

function siteSecrets(keys: AgreementKeyPair) {
  // openBytes takes a device's secrets; a site is a device named "site" with only an agreement key.
  return { id: SITE_RECIPIENT, dh: keys, sign: { publicKey: '', secretKey: '' } };
}

/** The most bytes of envelopes one relay envelope carries (a JSON array of them). */
export const RELAY_BATCH_BYTES = LIMITS.envelopeBytes + 1024;

/**
 * Seals envelopes (their JSON text, unchanged) for the site whose relay key is given: a JSON array
 * of 1 to LIMITS.relayBatch envelopes, all to that site, at most RELAY_BATCH_BYTES.
 */
export function sealForSite(envelopeJsons: string[], relayKey: string, x: X25519 = nobleX25519): DmCiphertext {
  if (envelopeJsons.length === 0 || envelopeJsons.length > LIMITS.relayBatch) throw new CryptoError('bad_batch', `a relay envelope carries 1 to ${LIMITS.relayBatch} envelopes`);
  const body = utf8(`[${envelopeJsons.join(',')}]`);
  if (body.length > RELAY_BATCH_BYTES) throw new CryptoError('bad_batch', `the envelopes are ${body.length} bytes together; a relay envelope carries at most ${RELAY_BATCH_BYTES}`);
  return sealBytes(body, siteRecipient(relayKey), RELAY_DOMAIN, randomBytes, x);
}

/** Opens what was sealed for this site (the JSON array's bytes); CryptoError when it was not, or was altered on the way. */
export function openForSite(sealed: DmCiphertext, keys: AgreementKeyPair, x: X25519 = nobleX25519): Uint8Array {
  return openBytes(sealed, siteSecrets(keys), RELAY_DOMAIN, x);
}

/** What the destination says of each envelope a relay envelope carried: its ack, by the envelope's own id. */
export const RelayResultSchema = z.strictObject({
  id: z.string().max(64),
  ok: z.boolean(),
  code: z.string().max(64).optional(),
  message: z.string().max(500).optional(),
  retryable: z.boolean().optional(),
  retryAfterMs: z.number().int().min(0).optional(),
});
export type RelayResult = z.infer<typeof RelayResultSchema>;

/** A relayed fetch: a GET of a public document on the destination site, and where to seal the answer. */
export const RelayFetchRequestSchema = z.strictObject({
  t: z.literal('hearth-relay-fetch-v1'),
  /** Path and query on the destination site; only public documents are served this way. */
  path: z.string().min(1).max(2000).regex(/^\/[\x21-\x7e]*$/),
  /** The asking site's one-time X25519 key: the answer is sealed to it. */
  replyKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  ifNoneMatch: z.string().max(200).optional(),
});
export type RelayFetchRequest = z.infer<typeof RelayFetchRequestSchema>;

export const RelayFetchAnswerSchema = z.strictObject({
  t: z.literal('hearth-relay-fetch-v1 answer'),
  status: z.number().int().min(100).max(599),
  etag: z.string().max(200).optional(),
  body: z.string(),
});
export type RelayFetchAnswer = z.infer<typeof RelayFetchAnswerSchema>;

/** Seals a fetch request for the destination site; returns it with the key that opens the answer. */
export function sealFetchRequest(
  request: Omit<RelayFetchRequest, 't' | 'replyKey'>,
  relayKey: string,
  x: X25519 = nobleX25519,
): { sealed: DmCiphertext; replyKeys: AgreementKeyPair } {
  const secret = randomBytes(32);
  const replyKeys = { publicKey: toBase64url(x.publicKey(secret)), secretKey: toBase64url(secret) };
  const body: RelayFetchRequest = { t: 'hearth-relay-fetch-v1', ...request, replyKey: replyKeys.publicKey };
  return { sealed: sealBytes(utf8(canonicalize(body)), siteRecipient(relayKey), RELAY_FETCH_DOMAIN, randomBytes, x), replyKeys };
}

export function openFetchRequest(sealed: DmCiphertext, keys: AgreementKeyPair, x: X25519 = nobleX25519): RelayFetchRequest {
  return parseSealed(openBytes(sealed, siteSecrets(keys), RELAY_FETCH_DOMAIN, x), RelayFetchRequestSchema);
}

export function sealFetchAnswer(answer: Omit<RelayFetchAnswer, 't'>, replyKey: string, x: X25519 = nobleX25519): DmCiphertext {
  const body: RelayFetchAnswer = { t: 'hearth-relay-fetch-v1 answer', ...answer };
  return sealBytes(utf8(JSON.stringify(body)), siteRecipient(replyKey), RELAY_FETCH_DOMAIN, randomBytes, x);
}

export function openFetchAnswer(sealed: DmCiphertext, replyKeys: AgreementKeyPair, x: X25519 = nobleX25519): RelayFetchAnswer {
  return parseSealed(openBytes(sealed, siteSecrets(replyKeys), RELAY_FETCH_DOMAIN, x), RelayFetchAnswerSchema);
}

function parseSealed<T>(bytes: Uint8Array, schema: z.ZodType<T>): T {
  let parsed;
  try {
    parsed = schema.safeParse(JSON.parse(fromUtf8(bytes)));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) throw new CryptoError('decrypt_failed', 'the sealed request is not one this site understands');
  return parsed.data;
}

/**
 * The part of a site's discovery document (/.well-known/hearth) that a relay path depends on:
 * the relay key and the relays the site can be reached through, signed by the server key so
 * a relay that hands it on cannot change it unnoticed (once the server key is known).
 */
export interface RelayAdvert {
  site: SiteName;
  relayKey: string;
  /** Addresses of the people whose sites relay for this one (`carol@friend.example`). */
  relays: string[];
}

export function relayAdvertBytes(advert: RelayAdvert): Uint8Array {
  return utf8(canonicalize({ t: 'hearth-relay-advert-v1', site: { host: advert.site.host, port: advert.site.port }, relayKey: advert.relayKey, relays: advert.relays }));
}

export function signRelayAdvert(advert: RelayAdvert, serverSigner: Signer): string {
  return toBase64url(serverSigner.sign(relayAdvertBytes(advert)));
}

export function verifyRelayAdvert(advert: RelayAdvert, sig: string, serverKey: string, verify: VerifyFn = nobleVerify): boolean {
  try {
    assertHost(advert.site.host);
    assertPort(advert.site.port);
    return verify(relayAdvertBytes(advert), fromBase64url(sig), serverKey);
  } catch {
    return false;
  }
}
