import {
  checkFreshness,
  EnvelopeError,
  FRESHNESS,
  formatAddress,
  formatSite,
  HearthError,
  parseEnvelopeText,
  RELAY_INBOX,
  sameSite,
  TYPES,
  validateEnvelope,
  verifyEnvelopeSignature,
  type Envelope,
  type RelayResult,
  type SiteName,
  type VerifyFn,
} from '@hearth/protocol';
import type { Logger } from 'pino';
import type { LocalUserCache } from '../storage/local-users.js';
import type { CommitBatcher } from '../storage/commit-batcher.js';
import { KeyUnknownError, type Directory } from './directory.js';
import { HANDLERS, type Handler } from './handlers.js';
import { compiledOnce } from '../storage/compiled.js';

/** Every envelope that arrives is marked seen here, in the transaction that stores it: a resend is answered as a duplicate. */
const markSeen = compiledOnce((db, v: { id: string; now: number }) => db.insertInto('inbox_seen').values({ envelope_id: v.id, received_at: v.now }).onConflict((oc) => oc.column('envelope_id').doNothing()));

/** An envelope's outcome; a relay envelope's also says what became of each envelope it carried. */
export type InboxResult = { status: 'accepted' | 'duplicate'; id: string; results?: RelayResult[] };

export interface Arrival {
  /** The authenticated peer site of the link it came over; absent for HTTP POST. */
  peer?: SiteName;
  /** Delivered by this site to itself (a local user's envelope to another local user). */
  local?: boolean;
  /** Opened from a relay envelope (PROTOCOL.md §9): it came through a friend's site, not from its sender's. */
  relayed?: boolean;
}

/** The relay operator's side, which the inbox hands relay envelopes to once they are verified. */
export interface RelayReceiver {
  receive(env: Envelope<'relay'>): Promise<InboxResult>;
}

/** Seen ids are kept a day longer than the oldest envelope accepted (FRESHNESS.maxAgeMs). */
export const SEEN_RETENTION_MS = FRESHNESS.maxAgeMs + 24 * 60 * 60 * 1000;

/**
 * Every inbound envelope passes here, in the order DESIGN.md gives: size and shape, version,
 * `to` is local, the sender's signature, the link peer, then dedupe by id and the type's
 * handler in one transaction. Nothing is stored until every check has passed.
 */
export class Inbox {
  /** Set by the composition root (the relay needs the inbox for the envelopes it opens). */
  relay: RelayReceiver | undefined;

  constructor(
    private readonly deps: {
      batcher: CommitBatcher;
      users: LocalUserCache;
      directory: Directory;
      site: SiteName;
      verify: VerifyFn;
      log: Logger;
      now: () => number;
      /** The site clock (storage/site-clock.ts): how long ids are remembered, whatever the wall clock does. */
      clock: () => number;
      /** Told of each envelope after its effects have committed (live updates). */
      onAccepted?: (env: Envelope) => void;
    },
  ) {}

  /**
   * Forgets envelope ids too old to be accepted again anyway; runs daily. Measured on the site
   * clock: a wall clock that jumps days ahead does not empty the table (ids are kept longer
   * when the site was down, never shorter).
   */
  async pruneSeen(): Promise<number> {
    const result = await this.deps.batcher.submit((trx) => trx.deleteFrom('inbox_seen').where('received_at', '<', this.deps.clock() - SEEN_RETENTION_MS).executeTakeFirst());
    return Number(result.numDeletedRows);
  }

  async receiveText(text: string | Uint8Array, arrival: Arrival): Promise<InboxResult> {
    return this.receiveChecked(this.logged(() => parseEnvelopeText(text), arrival), arrival);
  }

  async receive(value: unknown, arrival: Arrival): Promise<InboxResult> {
    return this.receiveChecked(this.logged(() => validateEnvelope(value), arrival), arrival);
  }

  /** An envelope its caller has already parsed and validated (one opened from a relay envelope). */
  async receiveValidated(env: Envelope, arrival: Arrival): Promise<InboxResult> {
    return this.receiveChecked(env, arrival);
  }

  private logged<T>(parse: () => T, arrival: Arrival): T {
    try {
      return parse();
    } catch (error) {
      this.deps.log.warn({ code: (error as HearthError).code, peer: arrival.peer && formatSite(arrival.peer) }, 'envelope refused');
      throw error;
    }
  }

  private async receiveChecked(env: Envelope, arrival: Arrival): Promise<InboxResult> {
    try {
      await this.check(env, arrival);
      if (env.type === TYPES.relayFetch) throw new EnvelopeError('invalid_envelope', 'a relay.fetch envelope goes to /federation/relay/fetch, which answers it', 400);
      if (env.type === TYPES.relay) {
        if (arrival.relayed) throw new EnvelopeError('bad_seal', 'a sealed envelope holds one envelope, never another relay envelope', 400);
        if (!this.relay) throw new EnvelopeError('unknown_type', 'this site does not relay', 400);
        return await this.relay.receive(env as Envelope<'relay'>);
      }
      // Blocks are silent (PROTOCOL.md §4 step 8): the sender gets a normal acceptance, and
      // nothing is stored, shown or remembered.
      if (await this.deps.users.hasBlocked(env.to.username, formatAddress(env.from))) return { status: 'accepted', id: env.id };
      const result = await this.deps.batcher.submit(async (trx) => {
        const seen = await markSeen(trx, { id: env.id, now: this.deps.clock() });
        if (Number(seen.numAffectedRows ?? 0) === 0) return { status: 'duplicate' as const, id: env.id };
        await (HANDLERS[env.type] as Handler)(trx, env, this.deps.now(), { users: this.deps.users });
        return { status: 'accepted' as const, id: env.id };
      });
      if (result.status === 'accepted') this.deps.onAccepted?.(env);
      return result;
    } catch (error) {
      const code = error instanceof HearthError ? error.code : 'internal';
      this.deps.log.warn({ code, id: env.id, type: env.type, from: formatAddress(env.from) }, 'envelope refused');
      throw error;
    }
  }

  /** The checks alone, for a relayed fetch (answered, never stored). */
  async verify(env: Envelope): Promise<void> {
    try {
      await this.check(env, {});
    } catch (error) {
      this.deps.log.warn({ code: error instanceof HearthError ? error.code : 'internal', id: env.id, type: env.type, from: formatAddress(env.from) }, 'envelope refused');
      throw error;
    }
  }

  /**
   * PROTOCOL.md §4, in order. Nothing about the recipient (whether they exist, whom they block)
   * is looked at before the sender's signature has verified, so an unsigned envelope learns
   * nothing but "bad signature".
   */
  private async check(env: Envelope, arrival: Arrival): Promise<void> {
    const stale = checkFreshness(env.ts, this.deps.now());
    // Clocks that disagree are retryable: the same envelope is good once they agree (§4 step 4).
    if (stale) throw new HearthError(stale.code, stale.message, { status: 400, retryable: true });
    if (!sameSite(env.to, this.deps.site)) {
      throw new EnvelopeError('not_local', `this site is ${formatSite(this.deps.site)}, not ${formatSite(env.to)}`, 404);
    }
    if (arrival.peer && !sameSite(arrival.peer, env.from)) {
      throw new EnvelopeError('forged_from', `envelope claims to come from ${formatSite(env.from)} but arrived on the link of ${formatSite(arrival.peer)}`, 403);
    }
    if (arrival.local && !sameSite(env.from, this.deps.site)) {
      throw new EnvelopeError('forged_from', 'a local delivery must come from this site', 403);
    }
    await this.checkSignature(env);
    // The relay inbox is the site itself, not a person (PROTOCOL.md §9).
    if (env.to.username === RELAY_INBOX && (env.type === TYPES.relay || env.type === TYPES.relayFetch)) return;
    if (!(await this.deps.users.exists(env.to.username))) throw new EnvelopeError('unknown_user', `${formatAddress(env.to)} does not exist`, 404);
  }

  /**
   * The signature against the sender's site key (§3 "Key lifecycle"). A signature that fails
   * against a key we hold may be the sender's new key: the key is fetched again, at most twice a
   * minute; past that the answer is `key_unknown` (retryable), never a final refusal,
   * so an envelope signed with a just-rotated key is delayed, not lost.
   */
  private async checkSignature(env: Envelope): Promise<void> {
    let known: { key: string; justFetched?: boolean };
    try {
      known = await this.deps.directory.siteKeyEntry(env.from);
    } catch (error) {
      throw senderKeyError(error, env.from);
    }
    if (verifyEnvelopeSignature(env, known.key, this.deps.verify)) return;
    if (!this.deps.directory.isLocal(env.from) && !known.justFetched) {
      const wait = this.deps.directory.refreshAllowedIn(env.from);
      if (wait > 0) {
        throw new KeyUnknownError(`the signature does not match the site key this site holds for ${formatAddress(env.from)}, and this site has already fetched that key twice in the last minute; if the key was rotated, retry later`, wait);
      }
      const fresh = await this.deps.directory.siteKeyOf(env.from, { refresh: true });
      if (fresh !== known.key && verifyEnvelopeSignature(env, fresh, this.deps.verify)) return;
    }
    throw new EnvelopeError('bad_signature', `the signature does not match the site key of ${formatAddress(env.from)}`, 401);
  }
}

/**
 * Why a sender's key could not be had, as the answer to the sender: never a 5xx, since the fault
 * is not this site's. Only a definite answer from the sender's own site is final.
 */
function senderKeyError(error: unknown, from: Envelope['from']): HearthError {
  const who = formatAddress(from);
  if (error instanceof KeyUnknownError) return error;
  if (error instanceof HearthError) {
    if (error.code === 'unknown_user') return new EnvelopeError('unknown_sender', `the sender ${who} does not exist on its site`, 401);
    if (error.code === 'bad_remote_key') return new EnvelopeError('bad_sender_key', `${error.message}: nothing it signs is accepted`, 401);
    if (error.code === 'forbidden_address' || error.code === 'insecure_url') return new EnvelopeError(error.code, `the sender ${who} is at an address this site does not contact: ${error.message}`, 400);
  }
  return new KeyUnknownError(`could not fetch the site key of ${who} now (${(error as Error)?.message ?? 'unknown error'}); retry later`, 60_000);
}
