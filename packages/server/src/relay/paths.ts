import { formatSite, nextRetryDelay, type SiteName } from '@hearth/protocol';
import type { Db } from '../storage/db.js';

export interface PathState {
  /** The relay in use (an address), or null: direct. */
  via: string | null;
  since: number;
  directFailures: number;
  /** While a relay is in use: when the direct path is tried again. */
  nextProbeAt: number;
}

/** The direct path is probed again after 30 s, then longer each time it still fails, up to 30 minutes. */
const PROBE_POLICY = { baseMs: 30_000, maxDelayMs: 30 * 60_000, giveUpAfterMs: Number.POSITIVE_INFINITY };

/**
 * Which path works to each site (PROTOCOL.md §9 "Path choice"), remembered across restarts:
 * direct by default; after the direct path failed, the relay that worked, with the time the
 * direct path is probed again (with backoff); direct again as soon as it works.
 */
export class RelayPaths {
  private readonly memory = new Map<string, PathState>();
  private loaded: Promise<void> | undefined;

  constructor(private readonly deps: { db: Db; clock: () => number; now: () => number; random?: () => number; onChange?: (dest: string, state: PathState) => void }) {}

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      const rows = await this.deps.db.selectFrom('relay_paths').selectAll().execute();
      for (const r of rows) this.memory.set(r.dest, { via: r.via, since: Number(r.since), directFailures: Number(r.direct_failures), nextProbeAt: Number(r.next_probe_at) });
    })();
    return this.loaded;
  }

  async get(dest: SiteName): Promise<PathState | undefined> {
    await this.load();
    return this.memory.get(formatSite(dest));
  }

  async all(): Promise<Map<string, PathState>> {
    await this.load();
    return this.memory;
  }

  /**
   * The direct path failed and is not due for a probe: relays first. True as soon as the direct
   * path fails, before any relay has worked: each delivery in that window would otherwise dial
   * the blocked site again and wait out its timeout (10 s) before trying a relay. A relay that
   * passes envelopes on had thus answered "queued" to every retry of its sender, and the sender's
   * backoff grew past a minute for an envelope the destination already had.
   */
  async relayFirst(dest: SiteName): Promise<boolean> {
    const state = await this.get(dest);
    return state !== undefined && state.directFailures > 0 && this.deps.clock() < state.nextProbeAt;
  }

  /** The direct path failed (a network failure): its next probe waits longer. */
  async directFailed(dest: SiteName): Promise<void> {
    const state = await this.get(dest);
    const failures = (state?.directFailures ?? 0) + 1;
    const delay = nextRetryDelay(failures - 1, 0, this.deps.random ?? Math.random, PROBE_POLICY) ?? PROBE_POLICY.maxDelayMs;
    await this.save(dest, { via: state?.via ?? null, since: state?.since ?? this.deps.now(), directFailures: failures, nextProbeAt: this.deps.clock() + delay });
  }

  /** A relay took envelopes for this site: it is the path in use. */
  async usingRelay(dest: SiteName, via: string): Promise<void> {
    const state = await this.get(dest);
    if (state?.via === via) return;
    await this.save(dest, { via, since: this.deps.now(), directFailures: state?.directFailures ?? 1, nextProbeAt: state?.nextProbeAt ?? this.deps.clock() + PROBE_POLICY.baseMs });
  }

  /** The direct path works (again). */
  async direct(dest: SiteName): Promise<void> {
    const state = await this.get(dest);
    if (!state || (state.via === null && state.directFailures === 0)) return;
    await this.save(dest, { via: null, since: state.via === null ? state.since : this.deps.now(), directFailures: 0, nextProbeAt: 0 });
  }

  private async save(dest: SiteName, state: PathState): Promise<void> {
    const key = formatSite(dest);
    this.memory.set(key, state);
    const values = { via: state.via, since: state.since, direct_failures: state.directFailures, next_probe_at: state.nextProbeAt };
    await this.deps.db.insertInto('relay_paths').values({ dest: key, ...values }).onConflict((oc) => oc.column('dest').doUpdateSet(values)).execute();
    this.deps.onChange?.(key, state);
  }
}
