import {
  createEnvelope,
  formatAddress,
  formatSite,
  HearthError,
  LIMITS,
  openFetchAnswer,
  parseAddress,
  RELAY_BATCH_BYTES,
  sameSite,
  sealFetchRequest,
  sealForSite,
  TYPES,
  verifyRelayAdvert,
  type Address,
  type DmCiphertext,
  type Envelope,
  type RelayResult,
  type Signer,
  type SiteName,
  type X25519,
} from '@hearth/protocol';
import type { Logger } from 'pino';
import type { AckResult } from '../federation/link.js';
import type { LinkManager } from '../federation/link-manager.js';
import type { HttpClient, HttpResponse } from '../net/http-client.js';
import { failure, postEnvelope } from '../outbox/post.js';
import type { Db } from '../storage/db.js';
import type { RelayPaths } from './paths.js';
import { allMyRelays, myRelays } from './store.js';

/** What a site publishes for relays (verified): its relay key and the relays it can be reached through. */
export interface KnownAdvert {
  relayKey: string;
  relays: string[];
  fetchedAt: number;
}

/** Adverts are read again after an hour; a failed read is not repeated for a minute. */
const ADVERT_TTL_MS = 60 * 60_000;
const ADVERT_RETRY_MS = 60_000;

/**
 * Acks that say "this path did not work", so the next relay is tried: the network failed, or the
 * relay would not take it (not on its list, not a site it serves, too many hops, over its limits).
 * Any other answer is the destination's verdict, which a different path would not change.
 */
const PATH_FAILURES = new Set(['error', 'fetch_failed', 'link_closed', 'handshake_timeout', 'unreachable', 'relay_not_allowed', 'relay_not_served', 'hop_limit', 'relay_rate_limited', 'relay_unreachable', 'bad_remote_key', 'key_unknown']);

/** The destination's ack of one envelope, from the results a relay brought back. */
function resultFor(results: RelayResult[], id: string): AckResult {
  const r = results.find((x) => x.id === id);
  if (!r) return { ok: false, code: 'bad_remote_answer', message: 'the answer through the relay did not name this envelope', retryable: true };
  const { id: _id, ...ack } = r;
  return ack;
}

export function isPathFailure(ack: AckResult): boolean {
  return !ack.ok && PATH_FAILURES.has(ack.code ?? 'error');
}

export interface RelayRouterDeps {
  db: Db;
  site: SiteName;
  x: X25519;
  links: LinkManager;
  /** Plain HTTP(S), for talking to relays themselves. */
  http: HttpClient;
  /** The path-aware fetch of a site's discovery document (direct, else through a relay). */
  fetchDiscovery: (site: SiteName) => Promise<unknown>;
  /** The server key of a site as this one knows it (for the advert's signature). */
  serverKeyOf: (site: SiteName) => Promise<string>;
  origin: (site: SiteName) => string;
  signerFor: (username: string) => Promise<Signer>;
  paths: RelayPaths;
  /** The hop limit this site's relayed envelopes start with (1, or 2 by the site's choice). */
  hops: number;
  log: Logger;
  now: () => number;
}

type Candidate = { relay: Address; asUser: string };

/** Whether an outbox body is a relay envelope this site passes on that may still take another relay. */
function mayPassOn(body: string): boolean {
  if (!body.includes('"relay"')) return false;
  try {
    const env = JSON.parse(body) as Envelope;
    return env.type === TYPES.relay && (env as Envelope<typeof TYPES.relay>).data.hops >= 1;
  } catch {
    return false;
  }
}

/**
 * The sender's side of the friends relay (PROTOCOL.md §9 "Path choice"): when a site cannot be
 * reached directly, its envelopes and fetches go through a relay: the one that worked last, then
 * the relays the destination advertises, then the sender's own, in order. Which one works is
 * remembered per destination, and the direct path is probed again with backoff (RelayPaths).
 */
export class RelayRouter {
  private readonly adverts = new Map<string, KnownAdvert>();
  private readonly advertFailures = new Map<string, number>();

  constructor(private readonly deps: RelayRouterDeps) {}

  /** Whether the direct path to this site is skipped for now: it failed, and no probe is due. */
  async avoidDirect(dest: SiteName): Promise<boolean> {
    return this.deps.paths.relayFirst(dest);
  }

  /** Whether any relay path to `dest` is known at all: someone here uses a relay, `dest` advertises one, or an envelope may pass one more relay. */
  async mayRelay(dest: SiteName, bodies: Array<string | undefined> = []): Promise<boolean> {
    if ((await this.deps.paths.get(dest))?.via) return true;
    // A relay envelope passed on here with a hop left may take a second relay (the destination's).
    if (bodies.some((body) => body !== undefined && mayPassOn(body))) return true;
    const key = formatSite(dest);
    if (((this.adverts.get(key) ?? (await this.storedAdvert(key)))?.relays.length ?? 0) > 0) return true;
    return (await this.deps.db.selectFrom('my_relays').select('username').limit(1).execute()).length > 0;
  }

  async directFailed(dest: SiteName): Promise<void> {
    await this.deps.paths.directFailed(dest);
  }

  async directWorks(dest: SiteName): Promise<void> {
    await this.deps.paths.direct(dest);
  }

  /**
   * Delivers envelopes (JSON text as stored in the outbox) to `dest` through relays. Returns an
   * ack per envelope, in order: the destination's verdict, carried back by the relay; or null
   * when no relay path exists, so the caller keeps its own outcome.
   */
  async deliver(dest: SiteName, items: Array<{ body: string; id: string }>): Promise<AckResult[] | null> {
    const results: Array<AckResult | undefined> = new Array(items.length);
    const envelopes = items.map((item) => JSON.parse(item.body) as Envelope);
    const bySender = new Map<string, number[]>();
    envelopes.forEach((env, i) => {
      const list = bySender.get(env.from.username);
      if (list) list.push(i);
      else bySender.set(env.from.username, [i]);
    });
    let tried = false;
    for (const [sender, indexes] of bySender) {
      let left = indexes;
      const signer = await this.deps.signerFor(sender);
      const advert = await this.advertOf(dest);
      const passingOn = left.some((i) => envelopes[i]!.type === TYPES.relay && (envelopes[i] as Envelope<typeof TYPES.relay>).data.hops >= 1);
      for (const candidate of await this.candidates(dest, [sender], true, passingOn)) {
        if (left.length === 0) break;
        const groups = this.batches(left, items, envelopes, dest, advert);
        if (groups.length === 0) continue;
        tried = true;
        const outers = groups.map((g) => createEnvelope({ type: TYPES.relay, from: envelopes[g.indexes[0]!]!.from, to: candidate.relay, data: g.data }, signer));
        const acks = await this.sendTo(candidate.relay, outers.map((outer) => ({ json: JSON.stringify(outer), id: outer.id })));
        const failed: number[] = [];
        let through = false;
        groups.forEach((group, k) => {
          const ack = acks[k]!;
          for (const i of group.indexes) {
            const result = group.passOn || !ack.ok || !ack.results ? ack : resultFor(ack.results, envelopes[i]!.id);
            results[i] = result;
            if (isPathFailure(result)) failed.push(i);
            else through = true;
          }
        });
        if (through) await this.deps.paths.usingRelay(dest, formatAddress(candidate.relay));
        const taken = new Set(groups.flatMap((g) => g.indexes));
        left = [...left.filter((i) => !taken.has(i)), ...failed];
      }
    }
    if (!tried) return null;
    return results.map((ack) => ack ?? { ok: false, code: 'no_relay_path', message: `${formatSite(dest)} cannot be reached directly and no relay took the envelope`, retryable: true });
  }

  /**
   * Relay envelope contents for the envelopes at `indexes`: this site's own envelopes, sealed
   * together for `dest` (up to LIMITS.relayBatch and RELAY_BATCH_BYTES each); an envelope that is
   * already a relay envelope (this site relays it on) alone, keeping its seal and hop count.
   * Envelopes that cannot go through a relay now (no relay key for `dest`, no hops left) are left out.
   */
  private batches(indexes: number[], items: Array<{ body: string }>, envelopes: Envelope[], dest: SiteName, advert: KnownAdvert | undefined) {
    const groups: Array<{ indexes: number[]; data: Envelope<typeof TYPES.relay>['data']; passOn: boolean }> = [];
    let batch: number[] = [];
    let bytes = 1;
    const seal = () => {
      if (batch.length === 0 || !advert) return;
      groups.push({ indexes: batch, passOn: false, data: { next: dest, hops: this.deps.hops, sealed: sealForSite(batch.map((i) => items[i]!.body), advert.relayKey, this.deps.x) } });
      batch = [];
      bytes = 1;
    };
    for (const i of indexes) {
      const env = envelopes[i]!;
      if (env.type === TYPES.relay) {
        const relayed = env as Envelope<typeof TYPES.relay>;
        if (relayed.data.hops >= 1) groups.push({ indexes: [i], passOn: true, data: { next: dest, hops: relayed.data.hops, sealed: relayed.data.sealed } });
        continue;
      }
      const size = Buffer.byteLength(items[i]!.body) + 1;
      if (batch.length === LIMITS.relayBatch || bytes + size > RELAY_BATCH_BYTES) seal();
      batch.push(i);
      bytes += size;
    }
    seal();
    return groups;
  }

  /**
   * A GET of a public document on `dest` through a relay: sealed for `dest`, answered sealed to a
   * one-time key, so the relay sees neither what is asked nor what comes back. The discovery
   * document itself (which holds the key to seal to) is fetched by the relay in the clear; its
   * relay part is signed by the server key. Null when no relay could do it.
   */
  async fetch(dest: SiteName, path: string, ifNoneMatch?: string): Promise<HttpResponse | null> {
    const discovery = path === '/.well-known/hearth';
    const advert = discovery ? undefined : await this.advertOf(dest);
    if (!discovery && !advert) return null;
    const local = (await allMyRelays(this.deps.db)).map((r) => r.username);
    // The discovery document is what gives the destination's advertised relays: not looked up for itself.
    for (const candidate of await this.candidates(dest, [...new Set(local)], !discovery)) {
      const sealedRequest = advert ? sealFetchRequest({ path, ...(ifNoneMatch ? { ifNoneMatch } : {}) }, advert.relayKey, this.deps.x) : undefined;
      const env = createEnvelope(
        { type: TYPES.relayFetch, from: { ...this.deps.site, username: candidate.asUser }, to: candidate.relay, data: { next: dest, hops: this.deps.hops, ...(sealedRequest ? { sealed: sealedRequest.sealed } : {}) } },
        await this.deps.signerFor(candidate.asUser),
      );
      let res: HttpResponse;
      try {
        res = await this.deps.http.request({ url: `${this.deps.origin(candidate.relay)}/federation/relay/fetch`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(env), timeoutMs: 20_000, maxBytes: 6 * 1024 * 1024 });
      } catch (error) {
        this.deps.log.debug({ relay: formatAddress(candidate.relay), err: (error as Error).message }, 'relay unreachable for a fetch');
        continue;
      }
      if (res.status !== 200) {
        this.deps.log.debug({ relay: formatAddress(candidate.relay), status: res.status }, 'relay refused a fetch');
        continue;
      }
      try {
        const answer = JSON.parse(res.text) as { sealed?: DmCiphertext; document?: unknown };
        await this.deps.paths.usingRelay(dest, formatAddress(candidate.relay));
        if (discovery) return { status: 200, headers: {}, text: JSON.stringify(answer.document ?? null) };
        const opened = openFetchAnswer(answer.sealed!, sealedRequest!.replyKeys, this.deps.x);
        return { status: opened.status, headers: opened.etag ? { etag: opened.etag } : {}, text: opened.body };
      } catch (error) {
        this.deps.log.warn({ relay: formatAddress(candidate.relay), err: (error as Error).message }, 'a relayed answer did not open; trying another relay');
      }
    }
    return null;
  }

  /** The destination's relay key and relays, from its discovery document (verified, cached). */
  async advertOf(dest: SiteName): Promise<KnownAdvert | undefined> {
    const key = formatSite(dest);
    let pending = this.advertReads.get(key);
    if (!pending) {
      pending = this.readAdvert(dest).finally(() => this.advertReads.delete(key));
      this.advertReads.set(key, pending);
    }
    return pending;
  }

  private readonly advertReads = new Map<string, Promise<KnownAdvert | undefined>>();

  /** The advert verified at an earlier fetch (kept across restarts): used while a fresh one cannot be had. */
  private async storedAdvert(key: string): Promise<KnownAdvert | undefined> {
    const row = await this.deps.db.selectFrom('relay_adverts').selectAll().where('site', '=', key).executeTakeFirst();
    if (!row) return undefined;
    const advert = { relayKey: row.relay_key, relays: JSON.parse(row.relays) as string[], fetchedAt: Number(row.fetched_at) };
    this.adverts.set(key, advert);
    return advert;
  }

  private async readAdvert(dest: SiteName): Promise<KnownAdvert | undefined> {
    const key = formatSite(dest);
    const known = this.adverts.get(key) ?? (await this.storedAdvert(key));
    const now = this.deps.now();
    if (known && now - known.fetchedAt < ADVERT_TTL_MS) return known;
    if ((this.advertFailures.get(key) ?? 0) > now) return known;
    try {
      const doc = (await this.deps.fetchDiscovery(dest)) as { relay?: { key?: unknown; relays?: unknown; sig?: unknown } };
      const relay = doc?.relay;
      if (typeof relay?.key !== 'string' || !Array.isArray(relay.relays) || typeof relay.sig !== 'string') throw new HearthError('bad_remote_answer', `${key} advertises no relay key`, { status: 502 });
      const relays = relay.relays.filter((r): r is string => typeof r === 'string').slice(0, 16);
      const serverKey = await this.deps.serverKeyOf(dest);
      if (!verifyRelayAdvert({ site: dest, relayKey: relay.key, relays }, relay.sig, serverKey)) throw new HearthError('bad_remote_answer', `the relay advert of ${key} is not signed by its server key`, { status: 502 });
      const advert = { relayKey: relay.key, relays, fetchedAt: now };
      this.adverts.set(key, advert);
      await this.deps.db
        .insertInto('relay_adverts')
        .values({ site: key, relay_key: advert.relayKey, relays: JSON.stringify(relays), fetched_at: now })
        .onConflict((oc) => oc.column('site').doUpdateSet({ relay_key: advert.relayKey, relays: JSON.stringify(relays), fetched_at: now }))
        .execute();
      this.advertFailures.delete(key);
      return advert;
    } catch (error) {
      this.advertFailures.set(key, now + ADVERT_RETRY_MS);
      this.deps.log.debug({ dest: key, err: (error as Error).message }, 'relay advert not read');
      return known;
    }
  }

  /**
   * The relays to try for `dest`, each with the local user who asks it (a relay serves people,
   * so the envelope to it is signed by one of its friends): the one that worked last, then those
   * `dest` advertises, then the users' own. Never `dest` itself, never this site.
   */
  private async candidates(dest: SiteName, users: string[], useAdvert = true, passingOn = false): Promise<Candidate[]> {
    const out: Candidate[] = [];
    const seen = new Set<string>();
    const add = (text: string, asUser: string) => {
      let relay: Address;
      try {
        relay = parseAddress(text);
      } catch {
        return;
      }
      if (sameSite(relay, dest) || sameSite(relay, this.deps.site)) return;
      const key = `${formatAddress(relay)} ${asUser}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ relay, asUser });
    };
    const own = new Map<string, string[]>();
    for (const user of users) own.set(user, await myRelays(this.deps.db, user));
    const last = (await this.deps.paths.get(dest))?.via;
    // The advert is read only when someone here has relays, an envelope passed on here may take a
    // second relay, or it was read before: a site with no relay at all never makes the extra request.
    const anyOwn = [...own.values()].some((list) => list.length > 0);
    const advert = useAdvert && (anyOwn || passingOn || this.adverts.has(formatSite(dest))) ? await this.advertOf(dest) : undefined;
    for (const user of users) {
      if (last) add(last, user);
      for (const relay of advert?.relays ?? []) add(relay, user);
      for (const relay of own.get(user) ?? []) add(relay, user);
    }
    return out;
  }

  /** Sends relay envelopes to the relay's site: over its link, else by POST. */
  private async sendTo(relay: SiteName, envelopes: Array<{ json: string; id: string }>): Promise<AckResult[]> {
    const link = await this.deps.links.ensure(relay);
    if (link) {
      // Within the link's byte budget, like any delivery: a slow relay holds a bounded amount.
      const acks: Array<Promise<AckResult>> = [];
      for (const e of envelopes) {
        if (!(await link.room(e.json.length))) {
          acks.push(Promise.resolve({ ok: false, code: 'link_closed', message: `the link to ${formatSite(relay)} closed`, retryable: true }));
          continue;
        }
        acks.push(link.send(e.json, e.id).catch(failure));
      }
      return Promise.all(acks);
    }
    if (this.deps.links.unreachable(relay)) return envelopes.map(() => ({ ok: false, code: 'unreachable', message: `${formatSite(relay)} cannot be reached`, retryable: true }));
    const origin = this.deps.origin(relay);
    return Promise.all(envelopes.map((e) => postEnvelope(this.deps.http, origin, e.json)));
  }
}
