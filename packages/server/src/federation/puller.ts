import { FRESHNESS, formatAddress, parseAddress, PostSchema, sameSite, type Address, type SiteName } from '@hearth/protocol';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { HttpFetcher } from '../net/http-client.js';
import type { Db } from '../storage/db.js';
import type { Directory } from './directory.js';
import { upsertRemotePost } from './handlers.js';

const count = z.number().int().min(0).max(1e9).optional();
const PostItem = PostSchema.extend({ author: z.string(), seq: z.number().int().min(1).optional(), likeCount: count, commentCount: count }).loose();
const PostsPage = z.object({
  items: z.array(PostItem).max(200),
  next: z.string().nullable().optional(),
});

/**
 * Following is a GET: the follower's site pulls the author's public posts, newest first,
 * with the ETag of the last answer and a `since` cursor, so an unchanged author costs a 304.
 * Pulls run when a follow starts, when a link to the author's site comes up (catch-up after
 * either side was down), and every 10 minutes as a safety net for missed pushes.
 */
export class Puller {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly deps: { db: Db; http: HttpFetcher; directory: Directory; log: Logger; now: () => number; onPulled?: (author: Address) => void }) {}

  start(): void {
    void this.pullAll();
    this.timer = setInterval(() => void this.pullAll(), 10 * 60_000);
    this.timer.unref();
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.running.values()]);
  }

  /** Pull every followed author on one site. */
  pullSite(site: SiteName): void {
    void this.targets().then((targets) => {
      for (const target of targets) if (sameSite(target, site)) void this.pull(target);
    });
  }

  async pullAll(): Promise<void> {
    await Promise.all((await this.targets()).map((t) => this.pull(t)));
  }

  /** Pulls one author; concurrent calls for the same author share one pull. */
  pull(author: Address): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const key = formatAddress(author);
    let pending = this.running.get(key);
    if (!pending) {
      pending = this.pullOnce(author)
        .catch((error: unknown) => this.deps.log.debug({ author: key, err: (error as Error).message }, 'pull failed; will retry later'))
        .finally(() => this.running.delete(key));
      this.running.set(key, pending);
    }
    return pending;
  }

  private async targets(): Promise<Address[]> {
    const rows = await this.deps.db.selectFrom('following').select('target').distinct().execute();
    return rows.map((r) => parseAddress(r.target)).filter((a) => !this.deps.directory.isLocal(a));
  }

  private async pullOnce(author: Address): Promise<void> {
    if (this.deps.directory.isLocal(author)) return;
    const key = formatAddress(author);
    const state = await this.deps.db.selectFrom('following').select(['etag', 'pull_seq']).where('target', '=', key).orderBy('pull_seq', 'desc').executeTakeFirst();
    const base = `${this.deps.directory.origin(author)}/api/users/${author.username}/posts?limit=100`;
    // By the author site's own post sequence: a post made after its clock jumped back still has a
    // higher number than every post before it, so no `since` time can hide it.
    let afterSeq = state?.pull_seq === null || state?.pull_seq === undefined ? 0 : Number(state.pull_seq);
    let etag: string | undefined;
    for (let page = 0; page < 50; page++) {
      const url = `${base}&afterSeq=${afterSeq}`;
      const res = await this.deps.http.request({ url, headers: page === 0 && state?.etag ? { 'if-none-match': state.etag } : {}, maxBytes: 2 * 1024 * 1024 });
      if (res.status === 304) break;
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
      if (page === 0 && typeof res.headers.etag === 'string') etag = res.headers.etag;
      const body = PostsPage.parse(JSON.parse(res.text));
      if (body.items.some((item) => item.seq === undefined)) return this.pullByTime(author);
      await this.store(author, body.items);
      const highest = Math.max(afterSeq, ...body.items.map((item) => item.seq!));
      if (highest > afterSeq) await this.deps.db.updateTable('following').set({ pull_seq: highest }).where('target', '=', key).execute();
      afterSeq = highest;
      if (body.items.length < 100) break;
    }
    const update: { last_pulled_at: number; etag?: string } = { last_pulled_at: this.deps.now() };
    if (etag) update.etag = etag;
    await this.deps.db.updateTable('following').set(update).where('target', '=', key).execute();
  }

  /** Stores pulled posts of one author, skipping any dated in this site's future. */
  private async store(author: Address, pulled: Array<z.infer<typeof PostItem>>): Promise<void> {
    const key = formatAddress(author);
    const now = this.deps.now();
    // A post dated in this site's future would pin itself to the top of every feed: skip it
    // (a pushed post is bounded by its envelope's ts the same way).
    const items = pulled.filter((item) => item.author === key && Date.parse(item.createdAt) - now <= FRESHNESS.maxFutureMs);
    if (items.length === 0) return;
    await this.deps.db.transaction().execute(async (trx) => {
      for (const item of items) await upsertRemotePost(trx, author, item, now, { likeCount: item.likeCount, commentCount: item.commentCount });
    });
    // Open feeds hear of pulled posts as of pushed ones (a post may come by pull first).
    this.deps.onPulled?.(author);
  }

  /** For an author site that gives no post sequence: newest first, since the newest post held. */
  private async pullByTime(author: Address): Promise<void> {
    const key = formatAddress(author);
    const latest = await this.deps.db.selectFrom('remote_posts').select((eb) => eb.fn.max('created_at').as('at')).where('author', '=', key).executeTakeFirst();
    const since = latest?.at ? new Date(Number(latest.at)).toISOString() : undefined;
    const base = `${this.deps.directory.origin(author)}/api/users/${author.username}/posts?limit=100${since ? `&since=${encodeURIComponent(since)}` : ''}`;
    let url = base;
    for (let page = 0; page < 50; page++) {
      const res = await this.deps.http.request({ url, maxBytes: 2 * 1024 * 1024 });
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
      const body = PostsPage.parse(JSON.parse(res.text));
      await this.store(author, body.items);
      if (!body.next) break;
      url = `${base}&before=${encodeURIComponent(body.next)}`;
    }
    await this.deps.db.updateTable('following').set({ last_pulled_at: this.deps.now() }).where('target', '=', key).execute();
  }
}
