import { formatAddress, parseAddress, TYPES, type Envelope } from '@hearth/protocol';
import type { Logger } from 'pino';
import { CALL_SIGNAL_MAX_AGE_MS } from '../federation/handlers.js';
import { fetchRemotePost, keepRemotePost } from '../federation/remote-post.js';
import type { Directory } from '../federation/directory.js';
import type { Db } from '../storage/db.js';
import type { LiveEvents } from './live-events.js';

/**
 * What follows an accepted envelope, after it is stored: the home vault is woken for a DM, a
 * shared post is fetched from its author, and the owners' open pages hear about it: a new post
 * for everyone here who follows its author, a call for the callee, a notification otherwise.
 */
export class EnvelopeAnnouncer {
  constructor(
    private readonly deps: {
      db: Db;
      directory: Directory;
      live: LiveEvents;
      wakeVault: (username: string) => void;
      now: () => number;
      log: Logger;
    },
  ) {}

  /** Posts announced lately (key → when): see announce. */
  private readonly announced = new Map<string, number>();

  /** True the first time `key` is seen within a minute. */
  private firstArrival(key: string): boolean {
    const now = this.deps.now();
    if (this.announced.size > 10_000 || (this.announced.size > 0 && now - this.announced.values().next().value! > 60_000)) {
      for (const [k, at] of this.announced) {
        if (now - at <= 60_000 && this.announced.size <= 10_000) break;
        this.announced.delete(k); // oldest first (insertion order)
      }
    }
    if (this.announced.has(key)) return false;
    this.announced.set(key, now);
    return true;
  }

  async announce(env: Envelope): Promise<void> {
    const { live } = this.deps;
    if (env.type === TYPES.dm) this.deps.wakeVault(env.to.username);
    if (env.type === TYPES.repostCreate) {
      const { post } = (env as Envelope<typeof TYPES.repostCreate>).data;
      void this.holdSharedPost(post.author, post.id).then(async (held) => {
        if (held) await live.feedChanged(formatAddress(env.from));
      });
    }
    if (!live.listening) return;
    if (env.type === TYPES.postCreate || env.type === TYPES.postUpdate || env.type === TYPES.postDelete) {
      const { post } = (env as Envelope<typeof TYPES.postCreate>).data;
      // The same post comes once per follower here (an envelope each), and its first arrival
      // already shows it to every follower on this site: the others would only repeat the event,
      // a hundred followers here making ten thousand events of one post.
      const key = `${env.type} ${formatAddress(env.from)} ${post.id} ${(post as { editedAt?: string }).editedAt ?? ''}`;
      if (!this.firstArrival(key)) return;
      await live.feedChanged(formatAddress(env.from));
    } else if (env.type === TYPES.callSignal) {
      const { data } = env as Envelope<typeof TYPES.callSignal>;
      if (this.deps.now() - Date.parse(env.ts) > CALL_SIGNAL_MAX_AGE_MS) return; // stale: the call is over
      live.emit(env.to.username, { type: 'call', from: formatAddress(env.from), callId: data.call.id, sealed: data.sealed });
    } else if (env.type === TYPES.dm) {
      // The message's place in the DM sequence: an open conversation fetches only what comes after
      // what it has (GET /api/dms?after=).
      const row = await this.deps.db.selectFrom('dm_messages').select('seq').where('username', '=', env.to.username).where('envelope_id', '=', env.id).executeTakeFirst();
      live.emit(env.to.username, { type: 'notification', kind: env.type, ...(row ? { seq: Number(row.seq) } : {}) });
    } else {
      live.emit(env.to.username, { type: 'notification', kind: env.type });
    }
  }

  /**
   * A post shared into feeds here: read from its author's site unless this site holds it already
   * (a local post, or a copy). A share of a post that does not exist is dropped. Best effort: a
   * failure leaves the share without its post, which shows nothing. True when the post is here.
   */
  async holdSharedPost(authorText: string, id: string): Promise<boolean> {
    const { db, directory } = this.deps;
    try {
      const author = parseAddress(authorText);
      if (directory.isLocal(author)) return true;
      const held = await db.selectFrom('remote_posts').select('id').where('author', '=', authorText).where('id', '=', id).executeTakeFirst();
      if (held) return true;
      const post = await fetchRemotePost(directory, author, id);
      if (!post) {
        await db.deleteFrom('shared_posts').where('author', '=', authorText).where('post_id', '=', id).execute();
        return false;
      }
      await keepRemotePost(db, author, post, this.deps.now());
      return true;
    } catch (error) {
      this.deps.log.debug({ err: (error as Error).message, post: `${authorText}/${id}` }, 'shared post not fetched');
      return false;
    }
  }
}
