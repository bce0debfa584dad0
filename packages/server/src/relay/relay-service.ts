import {
  createEnvelope,
  EnvelopeError,
  ERROR_CODES,
  formatAddress,
  formatSite,
  HearthError,
  openFetchRequest,
  openForSite,
  LIMITS,
  parseAddress,
  parseLimitedJson,
  RELAY_BATCH_BYTES,
  RELAY_INBOX,
  sameSite,
  sealFetchAnswer,
  TYPES,
  validateEnvelope,
  type AgreementKeyPair,
  type DmCiphertext,
  type Envelope,
  type ErrorCode,
  type RelayResult,
  type Signer,
  type SiteName,
  type X25519,
} from '@hearth/protocol';
import type { Logger } from 'pino';
import type { AckResult } from '../federation/link.js';
import type { Inbox, InboxResult } from '../federation/inbox.js';
import type { HttpClient } from '../net/http-client.js';
import type { CommitBatcher } from '../storage/commit-batcher.js';
import type { Db } from '../storage/db.js';
import { enqueueEnvelope } from '../outbox/outbox.js';
import { localAddress } from '../storage/users.js';
import type { QuotaGuard } from '../quotas.js';
import { RelayLimiter, utcDay, type FriendLimits } from './limits.js';
import { addRelayStats, DEFAULT_FRIEND_LIMITS, mutualFollows, relayFriends, relaysForMutuals, type RelayCounts } from './store.js';

/** A refusal that says when to come back (Retry-After over HTTP). */
export class RelayRateError extends HearthError {
  constructor(message: string, readonly retryAfterMs: number) {
    super('relay_rate_limited', message, { status: 429, retryable: true });
  }
}

/** How long a relay waits for the next hop's ack before it answers "queued" (the envelope stays in its outbox). */
const FORWARD_WAIT_MS = 10_000;
/** A queued relay envelope is left to the outbox worker after this (the synchronous try goes first). */
const QUEUE_DELAY_MS = 30_000;
/** The largest answer a relayed fetch passes on. */
const FETCH_ANSWER_BYTES = 2 * 1024 * 1024;
/**
 * What a relayed fetch may read on the destination site: the public documents another site
 * needs (discovery, a profile, posts and their comments). Anything else is refused.
 */
const PUBLIC_PATH = /^\/(\.well-known\/hearth|api\/users\/[a-z0-9_]{1,32}(\/posts(\/[A-Za-z0-9_-]{1,64})?)?)(\?[\x21-\x7e]*)?$/;

export interface RelayServiceDeps {
  db: Db;
  batcher: CommitBatcher;
  site: SiteName;
  keys: AgreementKeyPair;
  x: X25519;
  inbox: Inbox;
  http: HttpClient;
  origin: (site: SiteName) => string;
  signerFor: (username: string) => Promise<Signer>;
  /** Passes an envelope to its next hop now (the outbox's path-aware delivery, without a row). */
  forward: (dest: SiteName, body: string, envelopeId: string) => Promise<AckResult>;
  /** Reads a public document of this site (in process), for a relayed fetch that ends here. */
  readLocal: (path: string, ifNoneMatch?: string) => Promise<{ status: number; etag?: string; body: string }>;
  /** This site's discovery document, for a relayed fetch of it. */
  discovery: () => Promise<unknown>;
  /** The site's own limits (a hosting service's quota on relay volume). */
  quota?: QuotaGuard;
  log: Logger;
  now: () => number;
  clock: () => number;
}

/**
 * The relay operator's side (PROTOCOL.md §9): a relay envelope addressed to one of this site's
 * people is passed on if they relay for its sender and serve its next hop, within the friend's
 * limits; one whose next hop is this site is opened and its inner envelope received as if it
 * had come directly. Counts and bytes are kept per friend; contents never are, nor logged.
 */
export class RelayService {
  private readonly limiter = new RelayLimiter();
  private readonly pending = new Map<string, { owner: string; address: string; day: string } & RelayCounts>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RelayServiceDeps) {}

  /** A relay envelope that passed the inbox's checks (shape, freshness, `to` is here, signature). */
  async receive(env: Envelope<typeof TYPES.relay>): Promise<InboxResult> {
    if (sameSite(env.data.next, this.deps.site)) return this.deliverHere(env);
    const { owner, friend } = await this.admit(env, env.data.next);
    const bytes = env.data.sealed.ciphertext.length;
    const forwarded = createEnvelope(
      { type: TYPES.relay, from: localAddress(this.deps.site, owner), to: { ...env.data.next, username: RELAY_INBOX }, data: { next: env.data.next, hops: env.data.hops - 1, sealed: env.data.sealed } },
      await this.deps.signerFor(owner),
    );
    const body = JSON.stringify(forwarded);
    // Passed on at once, and the sender waits for the destination's ack (end to end). Only when
    // that ack does not come in time does the relay take the envelope into its own outbox (so it
    // survives a restart) and answer "queued": until then the sender's outbox holds it, so the
    // common case costs the relay no write at all.
    let queued: Promise<number> | undefined;
    const attempt = this.deps.forward(env.data.next, body, forwarded.id).then(async (ack) => {
      // Settled one way or the other at the next hop: a copy taken meanwhile is no longer needed.
      if (queued && (ack.ok || ack.code === 'duplicate_envelope' || !ack.retryable)) await this.dropQueued(await queued);
      return ack;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ack = await Promise.race([
      attempt,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), FORWARD_WAIT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    const delivered = ack?.ok === true || ack?.code === 'duplicate_envelope';
    if (delivered) this.count(owner, friend, { envelopes: 1, bytes, refused: 0 });
    if (ack === undefined || (ack.retryable && !delivered)) {
      queued = this.deps.batcher.submit((trx) => enqueueEnvelope(trx, forwarded, this.deps.clock(), { notBefore: this.deps.clock() + QUEUE_DELAY_MS }));
      await queued;
      throw new HearthError('relay_queued', `${formatSite(this.deps.site)} keeps the envelope and will pass it on; ${formatSite(env.data.next)} has not acknowledged it yet${ack?.code ? ` (${ack.code})` : ''}`, { status: 503, retryable: true });
    }
    // The destination's ack of each envelope inside goes back to the sender as it came.
    if (ack.ok) return { status: 'accepted', id: env.id, ...(ack.results ? { results: ack.results } : {}) };
    if (ack.code === 'duplicate_envelope') return { status: 'duplicate', id: env.id };
    throw answerError(ack, env.data.next);
  }

  /** A relayed fetch: answered here if this site is its destination, else passed on to it at once (never queued). */
  async fetch(env: Envelope<typeof TYPES.relayFetch>): Promise<{ sealed?: DmCiphertext; document?: unknown }> {
    const { next, hops, sealed } = env.data;
    if (sameSite(next, this.deps.site)) {
      if (!sealed) return { document: await this.deps.discovery() };
      let request;
      try {
        request = openFetchRequest(sealed, this.deps.keys, this.deps.x);
      } catch {
        throw new EnvelopeError('bad_seal', 'the sealed fetch does not open with this site\'s relay key: it was not made for this site, or was altered on the way', 400);
      }
      if (!PUBLIC_PATH.test(request.path)) throw new HearthError('relay_fetch_refused', 'a relayed fetch may read only public documents: the discovery document, profiles and posts', { status: 403 });
      const answer = await this.deps.readLocal(request.path, request.ifNoneMatch);
      return { sealed: sealFetchAnswer({ status: answer.status, body: answer.body.length > FETCH_ANSWER_BYTES ? '' : answer.body, ...(answer.etag ? { etag: answer.etag } : {}) }, request.replyKey, this.deps.x) };
    }
    const { owner, friend } = await this.admit(env, next);
    const onward = createEnvelope(
      { type: TYPES.relayFetch, from: localAddress(this.deps.site, owner), to: { ...next, username: RELAY_INBOX }, data: { next, hops: hops - 1, ...(sealed ? { sealed } : {}) } },
      await this.deps.signerFor(owner),
    );
    let res;
    try {
      res = await this.deps.http.request({
        url: `${this.deps.origin(next)}/federation/relay/fetch`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(onward),
        timeoutMs: 15_000,
        maxBytes: FETCH_ANSWER_BYTES * 2,
      });
    } catch (error) {
      this.count(owner, friend, { envelopes: 0, bytes: 0, refused: 1 });
      throw new HearthError('relay_unreachable', `${formatSite(this.deps.site)} could not reach ${formatSite(next)}: ${(error as Error).message}`, { status: 502, retryable: true });
    }
    let answer: { sealed?: DmCiphertext; document?: unknown; error?: { code?: string; message?: string } };
    try {
      answer = JSON.parse(res.text) as typeof answer;
    } catch {
      throw new HearthError('relay_unreachable', `${formatSite(next)} did not answer the relayed fetch with JSON`, { status: 502, retryable: true });
    }
    if (res.status !== 200) throw answerError({ ok: false, code: answer.error?.code ?? `http_${res.status}`, message: answer.error?.message ?? `answered ${res.status}` }, next);
    this.count(owner, friend, { envelopes: 1, bytes: res.text.length, refused: 0 });
    return answer.sealed ? { sealed: answer.sealed } : { document: answer.document };
  }

  /**
   * Who may use this relay, in the order of the bad-input tests: the envelope is addressed to a
   * person here who relays for its sender, its next hop is a site that person serves, it may
   * still be passed on (hops), and the sender is within their limits.
   */
  private async admit(env: Envelope, next: SiteName): Promise<{ owner: string; friend: string }> {
    const owner = env.to.username;
    const friend = formatAddress(env.from);
    // The list is read for every envelope (one query): a friend removed, from Settings or from
    // `hearth relay deny` in another process, is refused from the next envelope on.
    const friends = owner === RELAY_INBOX ? [] : await this.servedBy(owner);
    const entry = friends.find((f) => f.address === friend);
    if (!entry) {
      throw notAllowed(formatAddress(env.to), friend);
    }
    if (!friends.some((f) => sameSite(parseAddress(f.address), next))) {
      this.count(owner, friend, { envelopes: 0, bytes: 0, refused: 1 });
      throw new HearthError('relay_not_served', `${formatAddress(env.to)} relays only to the sites of people it relays for, and ${formatSite(next)} is not one`, { status: 403 });
    }
    const hops = (env.data as { hops: number }).hops;
    if (hops < 1) {
      this.count(owner, friend, { envelopes: 0, bytes: 0, refused: 1 });
      throw new HearthError('hop_limit', `this envelope may not be passed on any further (hops is ${hops}): a loop, or a longer path than its sender allowed`, { status: 400 });
    }
    const bytes = Buffer.byteLength(JSON.stringify(env.data));
    const wait = this.limiter.take(`${owner} ${friend}`, entry, bytes, this.deps.now());
    if (wait > 0) {
      this.count(owner, friend, { envelopes: 0, bytes: 0, refused: 1 });
      throw new RelayRateError(`${friend} has passed the limits ${formatAddress(env.to)} set (${entry.perMinute} envelopes a minute, ${Math.round(entry.bytesPerDay / 1024 / 1024)} MB a day); try again in ${Math.ceil(wait / 1000)} s`, wait);
    }
    const siteWait = (await this.deps.quota?.allowRelay(bytes)) ?? 0;
    if (siteWait > 0) {
      this.count(owner, friend, { envelopes: 0, bytes: 0, refused: 1 });
      throw new RelayRateError(`${formatSite(this.deps.site)} has relayed all its host allows today; it relays again in ${Math.ceil(siteWait / 3_600_000)} h`, siteWait);
    }
    return { owner, friend };
  }

  /**
   * A vault tunnel (PROTOCOL.md §9): a device of `friend` asks `owner` here for a byte pipe to the
   * friend's own site. The friend must be on the owner's list (their own site is then served by
   * definition); `proven` checks the device's signature, and only then does the opening take one
   * envelope of the friend's rate, so a forged hello cannot spend a friend's limits.
   */
  async admitTunnel(owner: string, friend: string, proven: () => Promise<void>): Promise<FriendLimits> {
    const entry = (await this.servedBy(owner)).find((f) => f.address === friend);
    if (!entry) throw notAllowed(formatAddress(localAddress(this.deps.site, owner)), friend);
    await proven();
    const siteWait = (await this.deps.quota?.allowRelay(0)) ?? 0;
    if (siteWait > 0) throw new RelayRateError(`${formatSite(this.deps.site)} has relayed all its host allows today`, siteWait);
    const wait = this.limiter.take(`${owner} ${friend}`, entry, 0, this.deps.now());
    if (wait > 0) {
      this.count(owner, friend, { envelopes: 0, bytes: 0, refused: 1 });
      throw new RelayRateError(`${friend} has passed the limits set for it here; try again in ${Math.ceil(wait / 1000)} s`, wait);
    }
    // A tunnel carries no envelopes of its own: it is counted by its bytes.
    return entry;
  }

  /** Bytes through a friend's tunnel: counted, or false (nothing counted) once the day's volume is spent. */
  spendTunnel(owner: string, friend: string, limits: FriendLimits, bytes: number): boolean {
    if (!this.limiter.spend(`${owner} ${friend}`, limits, bytes, this.deps.now())) return false;
    if (this.deps.quota && !this.deps.quota.spendRelay(bytes)) return false;
    this.count(owner, friend, { envelopes: 0, bytes, refused: 0 });
    return true;
  }

  /**
   * Whom `owner` relays for: their list, and (when they chose it) everyone they follow who
   * follows them back, with the default limits unless the list says otherwise.
   */
  private async servedBy(owner: string): Promise<Array<{ address: string } & FriendLimits>> {
    const listed = await relayFriends(this.deps.db, owner);
    if (!(await relaysForMutuals(this.deps.db, owner))) return listed;
    const known = new Set(listed.map((f) => f.address));
    const mutuals = (await mutualFollows(this.deps.db, owner)).filter((a) => !known.has(a)).map((address) => ({ address, ...DEFAULT_FRIEND_LIMITS }));
    return [...listed, ...mutuals];
  }

  /**
   * The last hop: open the seal and receive each envelope inside as if it had come directly (the
   * checks of PROTOCOL.md §4 but the link's peer, dedupe by its own id). The answer holds each
   * one's ack, by its id: that is what travels back to the sender.
   */
  private async deliverHere(env: Envelope<typeof TYPES.relay>): Promise<InboxResult> {
    let inner: unknown;
    try {
      inner = parseLimitedJson(openForSite(env.data.sealed, this.deps.keys, this.deps.x), { maxBytes: RELAY_BATCH_BYTES, maxDepth: LIMITS.envelopeDepth + 1 });
    } catch {
      throw new EnvelopeError('bad_seal', 'the sealed envelopes do not open with this site\'s relay key: they were not sealed for this site, or were altered on the way', 400);
    }
    if (!Array.isArray(inner) || inner.length === 0 || inner.length > LIMITS.relayBatch) throw new EnvelopeError('bad_seal', `a relay envelope carries 1 to ${LIMITS.relayBatch} envelopes`, 400);
    const results = await Promise.all(
      inner.map(async (value): Promise<RelayResult> => {
        const id = typeof (value as { id?: unknown })?.id === 'string' ? String((value as { id: string }).id).slice(0, 64) : '';
        try {
          const parsed = validateEnvelope(value);
          if (parsed.type === TYPES.relay || parsed.type === TYPES.relayFetch) throw new EnvelopeError('bad_seal', 'a relay envelope carries envelopes, never another relay envelope', 400);
          const result = await this.deps.inbox.receiveValidated(parsed, { relayed: true });
          return result.status === 'accepted' ? { id, ok: true } : { id, ok: false, code: 'duplicate_envelope', message: 'already received', retryable: false };
        } catch (error) {
          const e = error instanceof HearthError ? error : new HearthError('internal', 'internal error', { status: 500, retryable: true });
          const wait = (error as { retryAfterMs?: number }).retryAfterMs;
          return { id, ok: false, code: e.code, message: e.message.slice(0, 500), retryable: e.retryable || e.status >= 500, ...(typeof wait === 'number' ? { retryAfterMs: Math.ceil(wait) } : {}) };
        }
      }),
    );
    return { status: 'accepted', id: env.id, results };
  }

  private async dropQueued(seq: number): Promise<void> {
    await this.deps.batcher.submit(async (trx) => {
      await trx.deleteFrom('outbox').where('seq', '=', seq).execute();
      await trx.deleteFrom('outbox_bodies').where('seq', '=', seq).execute();
    });
  }

  private count(owner: string, address: string, counts: RelayCounts): void {
    const day = utcDay(this.deps.now());
    const key = `${owner} ${address} ${day}`;
    const entry = this.pending.get(key) ?? { owner, address, day, envelopes: 0, bytes: 0, refused: 0 };
    entry.envelopes += counts.envelopes;
    entry.bytes += counts.bytes;
    entry.refused += counts.refused;
    this.pending.set(key, entry);
    this.flushTimer ??= setTimeout(() => void this.flush(), 5_000);
    this.flushTimer.unref?.();
  }

  /** Writes the counts gathered since the last flush, and logs them (counts only). */
  async flush(): Promise<void> {
    this.flushTimer = undefined;
    const entries = [...this.pending.values()];
    this.pending.clear();
    if (entries.length === 0) return;
    try {
      await addRelayStats(this.deps.db, entries);
    } catch (error) {
      this.deps.log.warn({ err: (error as Error).message }, 'relay counts not saved');
    }
    const total = entries.reduce((t, e) => ({ envelopes: t.envelopes + e.envelopes, bytes: t.bytes + e.bytes, refused: t.refused + e.refused }), { envelopes: 0, bytes: 0, refused: 0 });
    this.deps.log.info({ relayed: total.envelopes, bytes: total.bytes, refused: total.refused, friends: new Set(entries.map((e) => e.address)).size }, 'relayed for friends');
  }

  /** A friend removed from the list: their limits start afresh if they are added again. */
  forget(owner: string, address: string): void {
    this.limiter.forget(`${owner} ${address}`);
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.flush();
  }
}

function notAllowed(relaying: string, friend: string): HearthError {
  return new HearthError('relay_not_allowed', `${relaying} does not relay for ${friend}: only for the people its owner has chosen`, { status: 403 });
}

/** The next hop's refusal, passed back to the sender with the code's own status and retry rule. */
function answerError(ack: AckResult, next: SiteName): HearthError {
  const code = ack.code ?? 'relay_unreachable';
  const known = Object.prototype.hasOwnProperty.call(ERROR_CODES, code) ? ERROR_CODES[code as ErrorCode] : undefined;
  return new HearthError(code, `${formatSite(next)}: ${ack.message ?? code}`, { status: known?.status || 502, retryable: ack.retryable ?? known?.retryable ?? true });
}
