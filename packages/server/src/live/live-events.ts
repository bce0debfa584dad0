import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/** What an owner's open page hears on /api/live (PROTOCOL.md; the web app refetches what changed). */
export type LiveEvent =
  | { type: 'feed' }
  | { type: 'notification'; kind: string; seq?: number }
  | { type: 'call'; from: string; callId: string; sealed: unknown };

/**
 * The live events of one site: each open page subscribes for its user, and whatever changes
 * something a user sees emits to them. Best effort (pages also poll). In one process the events
 * stay in memory; with several instances of a service, `bridge` carries them to the instance
 * that holds the page's socket.
 */
export class LiveEvents {
  private readonly emitter = new EventEmitter();

  constructor(
    private readonly deps: {
      /** The local users who follow an address (a cache, see storage/local-users.ts). */
      followersOf: (address: string) => Promise<string[]>;
      log: Logger;
    },
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** Passes events on to other instances and back (set by the scale-out wiring); undefined in one process. */
  bridge: { publish: (username: string, event: LiveEvent) => void } | undefined;

  /** Is any page of this site listening here? (Work done only for live events can be skipped when none is.) */
  get listening(): boolean {
    return this.emitter.eventNames().length > 0 || this.bridge !== undefined;
  }

  subscribe(username: string, listener: (event: LiveEvent) => void): () => void {
    this.emitter.on(username, listener);
    return () => this.emitter.off(username, listener);
  }

  emit(username: string, event: LiveEvent): void {
    if (this.bridge) this.bridge.publish(username, event);
    else this.deliver(username, event);
  }

  /** An event for the pages open in this process (from `emit`, or from another instance through the bridge). */
  deliver(username: string, event: LiveEvent): void {
    this.emitter.emit(username, event);
  }

  /** Tells everyone here who follows `author` that their feed changed. */
  async feedChanged(author: string): Promise<void> {
    if (!this.listening) return;
    try {
      for (const username of await this.deps.followersOf(author)) this.emit(username, { type: 'feed' });
    } catch (error) {
      this.deps.log.warn({ err: error }, 'live event failed');
    }
  }
}
