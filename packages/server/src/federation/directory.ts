import { formatAddress, formatSite, HearthError, isKeyText, sameSite, siteOrigin, type Address, type SiteName } from '@hearth/protocol';
import type { Db } from '../storage/db.js';
import { findUser } from '../storage/users.js';
import type { HttpClient } from '../net/http-client.js';

/**
 * Finds the public keys of other sites and users, over HTTPS, and remembers them.
 * A key that fails to verify a signature is fetched again once (the owner may have rotated
 * it) before the signature is refused.
 */
export class Directory {
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly memory = new Map<string, string>();
  /** When each subject was last fetched: forged signatures must not turn into a fetch flood. */
  private readonly fetchedAt = new Map<string, number>();
  static readonly REFRESH_INTERVAL_MS = 60_000;

  constructor(
    private readonly deps: { db: Db; http: HttpClient; site: SiteName; serverPublicKey: string; allowInsecure: boolean; now: () => number },
  ) {}

  origin(site: SiteName): string {
    return siteOrigin(site, { allowInsecureLoopback: this.deps.allowInsecure });
  }

  isLocal(site: SiteName): boolean {
    return sameSite(site, this.deps.site);
  }

  async siteKeyOf(address: Address, options: { refresh?: boolean } = {}): Promise<string> {
    if (this.isLocal(address)) {
      const user = await findUser(this.deps.db, address.username);
      if (!user) throw new HearthError('unknown_user', `${formatAddress(address)} does not exist`, { status: 404 });
      return user.site_public_key;
    }
    return this.cached(`user:${formatAddress(address)}`, options.refresh === true, async () => {
      const profile = await this.fetchJson(`${this.origin(address)}/api/users/${address.username}`);
      const key = (profile as { siteKey?: unknown }).siteKey;
      if (!isKeyText(key)) throw new HearthError('bad_remote_key', `${formatAddress(address)} publishes no valid site key`, { status: 502, retryable: true });
      return key;
    });
  }

  async serverKeyOf(site: SiteName, options: { refresh?: boolean } = {}): Promise<string> {
    if (this.isLocal(site)) return this.deps.serverPublicKey;
    return this.cached(`server:${formatSite(site)}`, options.refresh === true, async () => {
      const doc = await this.fetchJson(`${this.origin(site)}/.well-known/hearth`);
      const key = (doc as { serverKey?: unknown }).serverKey;
      if (!isKeyText(key)) throw new HearthError('bad_remote_key', `${formatSite(site)} publishes no valid server key`, { status: 502, retryable: true });
      return key;
    });
  }

  /** A remote user's public profile (not cached: devices change). */
  async profileOf(address: Address): Promise<unknown> {
    return this.fetchJson(`${this.origin(address)}/api/users/${address.username}`);
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

  private async cached(subject: string, refresh: boolean, fetchKey: () => Promise<string>): Promise<string> {
    const last = this.fetchedAt.get(subject);
    if (refresh && last !== undefined && this.deps.now() - last < Directory.REFRESH_INTERVAL_MS) refresh = false;
    if (!refresh) {
      const known = this.memory.get(subject);
      if (known) return known;
      const row = await this.deps.db.selectFrom('remote_keys').select('public_key').where('subject', '=', subject).executeTakeFirst();
      if (row) {
        this.memory.set(subject, row.public_key);
        return row.public_key;
      }
    }
    let pending = this.inflight.get(subject);
    if (!pending) {
      pending = (async () => {
        const key = await fetchKey();
        await this.deps.db
          .insertInto('remote_keys')
          .values({ subject, public_key: key, fetched_at: this.deps.now() })
          .onConflict((oc) => oc.column('subject').doUpdateSet({ public_key: key, fetched_at: this.deps.now() }))
          .execute();
        this.memory.set(subject, key);
        this.fetchedAt.set(subject, this.deps.now());
        return key;
      })().finally(() => this.inflight.delete(subject));
      this.inflight.set(subject, pending);
    }
    return pending;
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
  return new HearthError('unreachable', `could not reach ${who}'s site: ${(error as Error).message}`, { status: 502 });
}
