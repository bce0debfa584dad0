import {
  createEnvelope,
  EnvelopeError,
  ERROR_CODES,
  formatAddress,
  formatSite,
  HearthError,
  openFetchRequest,
  openForSite,
  parseEnvelopeText,
  RELAY_INBOX,
  sameSite,
  sealFetchAnswer,
  TYPES,
  type AgreementKeyPair,
  type DmCiphertext,
  type Envelope,
  type ErrorCode,
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
import { RelayLimiter, utcDay } from './limits.js';
import { addRelayStats, relayFriend, servesSite, type RelayCounts } from './store.js';

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
    const body = JSON.stringify(
      createEnvelope(
        { type: TYPES.relay, from: localAddress(this.deps.site, owner), to: { ...env.data.next, username: RELAY_INBOX }, data: { next: env.data.next, hops: env.data.hops - 1, sealed: env.data.sealed } },
        await this.deps.signerFor(owner),
      ),
    );
    const forwarded = JSON.parse(body) as Envelope;
    // Kept in this site's outbox first, so a relay that restarts still passes it on; the worker
    // leaves it alone for QUEUE_DELAY_MS while the synchronous try below runs.
    const seq = await this.deps.batcher.submit((trx) => enqueueEnvelope(trx, forwarded, this.deps.clock(), { notBefore: this.deps.clock() + QUEUE_DELAY_MS }));
    const attempt = this.deps.forward(env.data.next, body, forwarded.id).then(async (ack) => {
      // Settled one way or the other at the next hop: the outbox copy is no longer needed.
      if (ack.ok || ack.code === 'duplicate_envelope' || !ack.retryable) await this.dropQueued(seq);
      return ack;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ack = await Promise.race([attempt, new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), FORWARD_WAIT_MS);
    })]).finally(() => clearTimeout(timer));
    this.count(owner, friend, ack?.ok || ack?.code === 'duplicate_envelope' ? { envelopes: 1, bytes, refused: 0 } : { envelopes: 0, bytes: 0, refused: 0 });
    if (!ack) throw new HearthError('relay_queued', `${formatSite(this.deps.site)} keeps the envelope and will pass it on; ${formatSite(env.data.next)} has not acknowledged it yet`, { status: 503, retryable: true });
    if (ack.ok) return { status: 'accepted', id: env.id };
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
    const entry = owner === RELAY_INBOX ? undefined : await relayFriend(this.deps.db, owner, friend);
    if (!entry) {
      throw new HearthError('relay_not_allowed', `${formatAddress(env.to)} does not relay for ${friend}: only for the people its owner has chosen`, { status: 403 });
    }
    if (!(await servesSite(this.deps.db, owner, next))) {
      this.count(owner, friend, { envelopes: 0, bytes: 0, refused: 1 });
      throw new HearthError('relay_not_served', `${formatAddress(env.to)} relays only to the sites of people it relays for, and ${formatSite(next)} is not one`, { status: 403 });
    }
    const hops = (env.data as { hops: number }).hops;
    if (hops < 1) {
      this.count(owner, friend, { envelopes: 0, bytes: 0, refused: 1 });
      throw new HearthError('hop_limit', `this envelope may not be passed on any further (hops is ${hops}): a loop, or a longer path than its sender allowed`, { status: 400 });
    }
    const wait = this.limiter.take(`${owner} ${friend}`, entry, Buffer.byteLength(JSON.stringify(env.data)), this.deps.now());
    if (wait > 0) {
      this.count(owner, friend, { envelopes: 0, bytes: 0, refused: 1 });
      throw new RelayRateError(`${friend} has passed the limits ${formatAddress(env.to)} set (${entry.perMinute} envelopes a minute, ${Math.round(entry.bytesPerDay / 1024 / 1024)} MB a day); try again in ${Math.ceil(wait / 1000)} s`, wait);
    }
    return { owner, friend };
  }

  /** The last hop: open the seal and receive the inner envelope as if it had come directly. */
  private async deliverHere(env: Envelope<typeof TYPES.relay>): Promise<InboxResult> {
    let inner: Uint8Array;
    try {
      inner = openForSite(env.data.sealed, this.deps.keys, this.deps.x);
    } catch {
      throw new EnvelopeError('bad_seal', 'the sealed envelope does not open with this site\'s relay key: it was not made for this site, or was altered on the way', 400);
    }
    const parsed = parseEnvelopeText(inner);
    if (parsed.type === TYPES.relay || parsed.type === TYPES.relayFetch) throw new EnvelopeError('bad_seal', 'a sealed envelope holds one envelope, never another relay envelope', 400);
    return this.deps.inbox.receiveText(inner, { relayed: true });
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

/** The next hop's refusal, passed back to the sender with the code's own status and retry rule. */
function answerError(ack: AckResult, next: SiteName): HearthError {
  const code = ack.code ?? 'relay_unreachable';
  const known = Object.prototype.hasOwnProperty.call(ERROR_CODES, code) ? ERROR_CODES[code as ErrorCode] : undefined;
  return new HearthError(code, `${formatSite(next)}: ${ack.message ?? code}`, { status: known?.status || 502, retryable: ack.retryable ?? known?.retryable ?? true });
}
