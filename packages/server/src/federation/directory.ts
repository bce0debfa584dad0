import {
  formatAddress,
  formatSite,
  HearthError,
  isAcceptableSigningKey,
  sameSite,
  siteOrigin,
  verifySiteKeyRotation,
  type Address,
  type SiteName,
  type VerifyFn,
} from '@hearth/protocol';
import type { Db } from '../storage/db.js';
import { findUser } from '../storage/users.js';
// A sliding-window counter per key, written for failed logins; it counts key fetches as well.
import { LoginLimiter } from '../auth/login-limiter.js';
import type { HttpFetcher } from '../net/http-client.js';

/**
 * What a receiver says when it cannot confirm a sender's key right now (fetched too often
 * already, the sender's site unreachable, a changed key waiting for the old one to expire):
 * 401 like any unverified envelope, but retryable, with a Retry-After.
 */
export class KeyUnknownError extends HearthError {
  constructor(message: string, readonly retryAfterMs: number) {
    super('key_unknown', message, { status: 401, retryable: true });
  }
}

/** A subject's key is fetched at most REFRESHES_PER_WINDOW times per REFRESH_WINDOW_MS. */
const REFRESH_WINDOW_MS = 60_000;
const REFRESHES_PER_WINDOW = 2;
/** After this many failed user-key lookups at one host within the window, it is not asked again until the window moves on. */
const HOST_FAILURE_BUDGET = 20;
const HOST_FAILURE_WINDOW_MS = 10 * 60_000;

interface KnownKey {
  key: string;
  fetchedAt: number;
  /** Fetched for this very lookup (so a signature that fails against it fails for good). */
  justFetched?: boolean;
}

/**
 * Finds the public keys of other sites and users, over HTTPS, and remembers them
 * (PROTOCOL.md §3 "Key lifecycle"):
 * - a key is trusted for KEY_TTL_MS after it was fetched, then fetched again before use, so a
 *   rotated-out key stops working at a defined moment;
 * - a different key replaces a fresh one only with a rotation notice signed by the old key;
 * - a subject is fetched at most twice a minute, and lookups that fail are
 *   remembered (per subject, and per host once a host fails often), so envelopes with made-up
 *   senders cannot turn this site into a fetching tool;
 * - keys of small order or in a non-canonical encoding are refused when first fetched.
 */
export class Directory {
  private readonly inflight = new Map<string, Promise<KnownKey>>();
  private readonly memory = new Map<string, KnownKey>();
  /** Fetches per subject: forged signatures must not turn into a fetch flood. */
  private readonly fetches = new LoginLimiter({ maxFailures: REFRESHES_PER_WINDOW, windowMs: REFRESH_WINDOW_MS, maxKeys: 10_000 });
  /** Subjects whose lookup failed, with the error to give again until `until`. */
  private readonly failed = new Map<string, { until: number; error: HearthError }>();
  /** Failed lookups per host; past the budget the host is not asked again for a while. */
  private readonly hostFailures = new LoginLimiter({ maxFailures: HOST_FAILURE_BUDGET, windowMs: HOST_FAILURE_WINDOW_MS, maxKeys: 10_000 });

  static readonly KEY_TTL_MS = 60 * 60_000;
  static readonly NEGATIVE_TTL_MS = 10 * 60_000;
  static readonly UNREACHABLE_TTL_MS = 5_000;

  constructor(
    private readonly deps: {
      db: Db;
      http: HttpFetcher;
      site: SiteName;
      serverPublicKey: string;
      allowInsecure: boolean;
      now: () => number;
      verify: VerifyFn;
      /** Told of each profile document fetched (for names and pictures); must not throw. */
      onProfile?: (address: Address, profile: unknown) => void;
    },
  ) {}

  origin(site: SiteName): string {
    return siteOrigin(site, { allowInsecureLoopback: this.deps.allowInsecure });
  }

  isLocal(site: SiteName): boolean {
    return sameSite(site, this.deps.site);
  }

  /** The site key of a user, with when it was fetched (`fetchedAt` is now for a key just fetched). */
  async siteKeyOf(address: Address, options: { refresh?: boolean } = {}): Promise<string> {
    return (await this.siteKeyEntry(address, options)).key;
  }

  async siteKeyEntry(address: Address, options: { refresh?: boolean } = {}): Promise<KnownKey> {
    if (this.isLocal(address)) {
      const user = await findUser(this.deps.db, address.username);
      if (!user) throw new HearthError('unknown_user', `${formatAddress(address)} does not exist`, { status: 404 });
      return { key: user.site_public_key, fetchedAt: this.deps.now(), justFetched: true };
    }
    const who = formatAddress(address);
    return this.cached(`user:${who}`, address, options.refresh === true, async (previous) => {
      const profile = (await this.fetchJson(`${this.origin(address)}/api/users/${address.username}`)) as { siteKey?: unknown; siteKeyRotation?: unknown };
      const key = profile.siteKey;
      this.deps.onProfile?.(address, profile);
      if (typeof key !== 'string' || !isAcceptableSigningKey(key)) {
        throw new HearthError('bad_remote_key', `${who} publishes no acceptable site key (missing, malformed, non-canonical or of small order)`, { status: 502, retryable: true });
      }
      if (previous && previous.key !== key && this.deps.now() - previous.fetchedAt < Directory.KEY_TTL_MS) {
        // The key changed while the one we hold is still fresh: only the old key may vouch for the new.
        if (!verifySiteKeyRotation(profile.siteKeyRotation, { address: who, previous: previous.key, key }, this.deps.verify)) {
          throw new KeyUnknownError(`${who} now publishes a different site key without a rotation notice signed by the old one; it is trusted once the old key expires`, previous.fetchedAt + Directory.KEY_TTL_MS - this.deps.now());
        }
      }
      return key;
    });
  }

  async serverKeyOf(site: SiteName, options: { refresh?: boolean } = {}): Promise<string> {
    if (this.isLocal(site)) return this.deps.serverPublicKey;
    const entry = await this.cached(`server:${formatSite(site)}`, site, options.refresh === true, async () => {
      const doc = await this.fetchJson(`${this.origin(site)}/.well-known/hearth`);
      const key = (doc as { serverKey?: unknown }).serverKey;
      if (typeof key !== 'string' || !isAcceptableSigningKey(key)) {
        throw new HearthError('bad_remote_key', `${formatSite(site)} publishes no acceptable server key`, { status: 502, retryable: true });
      }
      return key;
    });
    return entry.key;
  }

  /** How long until a subject's key may be fetched again (0: now). */
  refreshAllowedIn(address: Address): number {
    return this.refreshWait(`user:${formatAddress(address)}`);
  }

  private refreshWait(subject: string): number {
    return this.fetches.retryAfter([subject], this.deps.now());
  }

  /** A remote user's public profile (not cached: devices change). */
  async profileOf(address: Address): Promise<unknown> {
    const profile = await this.fetchJson(`${this.origin(address)}/api/users/${address.username}`);
    this.deps.onProfile?.(address, profile);
    return profile;
  }

  async fetchJson(url: string): Promise<unknown> {
    const res = await this.deps.http.request({ url, maxBytes: 256 * 1024 });
    if (res.status === 404) throw new HearthError('unknown_user', `${url} was not found`, { status: 404 });
    if (res.status !== 200) throw new HearthError('fetch_failed', `${url} answered ${res.status}`, { status: 502, retryable: res.status >= 500 || res.status === 429 });
    try {
      return JSON.parse(res.text);
    } catch {
      throw new HearthError('fetch_failed', `${url} did not return JSON`, { status: 502, retryable: true });
    }
  }

  private async cached(subject: string, site: SiteName, refresh: boolean, fetchKey: (previous: KnownKey | undefined) => Promise<string>): Promise<KnownKey> {
    const now = this.deps.now();
    let known = this.memory.get(subject);
    if (!known) {
      const row = await this.deps.db.selectFrom('remote_keys').select(['public_key', 'fetched_at']).where('subject', '=', subject).executeTakeFirst();
      if (row) this.memory.set(subject, (known = { key: row.public_key, fetchedAt: Number(row.fetched_at) }));
    }
    if (refresh && this.refreshWait(subject) > 0) refresh = false;
    // A key older than its TTL is fetched again before use: that is when a rotated-out key stops working.
    const expired = known !== undefined && (now - known.fetchedAt >= Directory.KEY_TTL_MS || known.fetchedAt > now + Directory.KEY_TTL_MS);
    if (known && !refresh && !expired) return known;

    const failure = this.failed.get(subject);
    if (failure && failure.until > now) throw failure.error;
    const hostKey = formatSite(site);
    // The per-host budget guards lookups that strangers can cause (a user key named in an
    // unsigned envelope); the server key, which this site looks up to link, is not held back by it.
    const budgeted = subject.startsWith('user:');
    const hostWait = budgeted ? this.hostFailures.retryAfter([hostKey], now) : 0;
    if (hostWait > 0) {
      throw new KeyUnknownError(`too many failed key lookups at ${hostKey}; not asking it again for a while`, hostWait);
    }

    let pending = this.inflight.get(subject);
    if (!pending) {
      pending = (async () => {
        this.fetches.recordFailure([subject], this.deps.now());
        let key: string;
        try {
          key = await fetchKey(known);
        } catch (error) {
          this.remember(subject, budgeted ? hostKey : undefined, error);
          throw error;
        }
        const entry = { key, fetchedAt: this.deps.now() };
        await this.deps.db
          .insertInto('remote_keys')
          .values({ subject, public_key: key, fetched_at: entry.fetchedAt })
          .onConflict((oc) => oc.column('subject').doUpdateSet({ public_key: key, fetched_at: entry.fetchedAt }))
          .execute();
        this.memory.set(subject, entry);
        this.failed.delete(subject);
        return { ...entry, justFetched: true };
      })().finally(() => this.inflight.delete(subject));
      this.inflight.set(subject, pending);
    }
    return pending;
  }

  /** Records a failed lookup: the same answer for a while, and one more failure against the host. */
  private remember(subject: string, hostKey: string | undefined, error: unknown): void {
    if (error instanceof KeyUnknownError) return; // a rotation waiting for its TTL: nothing failed
    const now = this.deps.now();
    const notFound = error instanceof HearthError && error.code === 'unknown_user';
    // A site this one dials and cannot reach yet is not remembered: linking has its own backoff.
    if (!notFound && subject.startsWith('server:')) return;
    const asHearth = error instanceof HearthError ? error : new HearthError('unreachable', `could not fetch the key: ${(error as Error)?.message ?? String(error)}`, { status: 502, retryable: true });
    this.failed.set(subject, { until: now + (notFound ? Directory.NEGATIVE_TTL_MS : Directory.UNREACHABLE_TTL_MS), error: asHearth });
    if (hostKey !== undefined) this.hostFailures.recordFailure([hostKey], now);
    // Bounded memory: forget the oldest entries past a cap.
    if (this.failed.size > 10_000) this.failed.delete(this.failed.keys().next().value!);
  }
}

/**
 * Turns a failure to reach another person's site into an API error a person can act on:
 * no such user (404), an address this site may not contact (400), or unreachable (502).
 */
export function remoteLookupError(error: unknown, address: Address): HearthError {
  const who = formatAddress(address);
  if (error instanceof HearthError) {
    if (error.code === 'unknown_user') return new HearthError('not_found', `user ${who} was not found`, { status: 404 });
    if (error.code === 'forbidden_address' || error.code === 'insecure_url') return new HearthError(error.code, `${who}: ${error.message}`, { status: 400 });
  }
  // The fetch's own message says what failed in words ("could not reach host: nothing answers there").
  const reason = (error as Error).message.replace(/^could not reach [^:]+: /, '');
  return new HearthError('unreachable', `could not reach ${who}'s site: ${reason}`, { status: 502 });
}
