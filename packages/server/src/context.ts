import { rememberProfileDocument } from './storage/feed.js';
import { LiveEvents, type LiveEvent } from './live/live-events.js';
import { randomUUID, createHash } from 'node:crypto';
import type { ClusterBus } from './cluster/bus.js';
import { NatsBus } from './cluster/nats-bus.js';
import type { DatabaseTarget } from './storage/dialect.js';
import { EnvelopeAnnouncer } from './live/announce.js';
import { ackForError, ackForResult } from './federation/ack.js';
import { lookupProfile } from './federation/profiles.js';
import { SiteSigners } from './federation/signers.js';
import { FanOut } from './outbox/fanout.js';
import { linkedSites } from './storage/follows.js';
import { discoveryDocument } from './federation/discovery.js';
import type { IntervalHistogram } from 'node:perf_hooks';
import { acquireLoopDelay, releaseLoopDelay } from './loop-delay.js';
import { sql, type Kysely } from 'kysely';
import { createEnvelope, DEFAULT_RELAY_HOPS, formatSite, deriveRelayKeyPair, type Address, type AgreementKeyPair, formatAddress, HearthError, parseAddress, parseHostPort, sameSite, siteFromUrl, type Envelope, type Signer, type SiteName } from '@hearth/protocol';
import { nodeX25519 } from '@hearth/protocol/node';
import { RelayPaths } from './relay/paths.js';
import { RelayRouter } from './relay/router.js';
import { RelayService } from './relay/relay-service.js';
import { RelayTunnels } from './relay/tunnel.js';
import { QuotaGuard } from './quotas.js';
import { PathAwareHttp } from './relay/path-aware-http.js';
import { allMyRelays, myRelays } from './relay/store.js';
import pino, { type Logger } from 'pino';
import { LoginLimiter } from './auth/login-limiter.js';
import { nodeSigner, nodeVerify, randomToken } from './crypto/node-signing.js';
import { Directory } from './federation/directory.js';
import { Inbox } from './federation/inbox.js';
import { SiteClock } from './storage/site-clock.js';
import { AckMarks, quickCheck } from './storage/integrity.js';
import { asStorageError, diskSpace, StorageFullError } from './storage/storage-errors.js';
import { LinkManager } from './federation/link-manager.js';
import type { AckResult } from './federation/link.js';
import { Puller } from './federation/puller.js';
import { HttpClient } from './net/http-client.js';
import { OutboxWorker } from './outbox/worker.js';
import { localAddressText } from './storage/users.js';
import { VaultHub } from './vault/hub.js';
import { CommitBatcher } from './storage/commit-batcher.js';
import { migrateToLatest, openDatabase, schemaBytes, type Db } from './storage/db.js';
import { dialectOf, type DialectName } from './storage/dialect.js';
import fs from 'node:fs';
import { redactUrl, SiteConfigError } from './site-config.js';
import { LocalUserCache } from './storage/local-users.js';
import type { Database } from './storage/schema.js';
import type { SiteConfig } from './site-config.js';

export interface ContextOptions {
  config: SiteConfig;
  logger?: Logger;
  logLevel?: string;
  /** Injected for tests; defaults to Date.now. */
  now?: () => number;
  /** The built web app (packages/web/dist); without it, pages are served without the app. */
  webDir?: string;
}

/**
 * The composition root: builds every long-lived part of a site from its configuration, in
 * one place, and closes them in reverse order. Nothing else constructs these parts.
 */
export class Context {
  readonly config: SiteConfig;
  readonly site: SiteName;
  readonly webDir: string | undefined;
  readonly log: Logger;
  readonly db: Db;
  /** The database the site's data is in: the embedded SQLite file, or PostgreSQL. */
  readonly dialect: DialectName;
  /** This process's id among the site's instances (docs/SCALING.md). */
  readonly instance = randomUUID();
  /** The bus to the site's other instances, when it has several (cluster.nats in hearth.json). */
  bus: ClusterBus | undefined;
  readonly now: () => number;
  /** Plain HTTP(S) to other sites (SSRF-guarded). */
  readonly http: HttpClient;
  /** Reads of other sites that go through a friend's relay when the direct path fails. */
  readonly fetcher: PathAwareHttp;
  /** This site's relay key (X25519), derived from its server key: what relayed envelopes are sealed to. */
  readonly relayKeys: AgreementKeyPair;
  readonly relayPaths: RelayPaths;
  readonly router: RelayRouter;
  readonly relay: RelayService;
  /** Limits a hosting vendor set on this site (none for a site of its own). */
  readonly quota: QuotaGuard;
  /** Byte pipes through which friends' home vaults reach their own sites (PROTOCOL.md §9). */
  readonly tunnels: RelayTunnels;
  /**
   * Reads a public document of this site in process (a relayed fetch that ends here); set by
   * buildApp, which owns the routes.
   */
  readLocal: (path: string, ifNoneMatch?: string) => Promise<{ status: number; etag?: string; body: string }> = async () => ({ status: 503, body: '' });
  readonly directory: Directory;
  readonly batcher: CommitBatcher;
  readonly inbox: Inbox;
  readonly users: LocalUserCache;
  /** Live events for the owners' open pages (live/live-events.ts). */
  readonly live: LiveEvents;
  /** What follows an accepted envelope: live events, the vault woken, a shared post fetched. */
  readonly announcer: EnvelopeAnnouncer;
  readonly links: LinkManager;
  readonly outbox: OutboxWorker;
  /** The rest of fan-outs to many followers, stepped after their commit (outbox/fanout.ts). */
  readonly fanout: FanOut;
  readonly puller: Puller;
  readonly vaults: VaultHub;
  readonly loginLimiter = new LoginLimiter();
  readonly serverSigner: Signer;
  readonly verify = nodeVerify;
  private readonly siteSigners: SiteSigners;
  private pruneTimer: NodeJS.Timeout | undefined;
  private clockTimer: NodeJS.Timeout | undefined;
  private clock: SiteClock | undefined;

  /** The site clock (storage/site-clock.ts): for schedules and retention, never for protocol times. */
  siteNow(): number {
    return this.clock ? this.clock.now() : this.now();
  }
  /** While the site has no users: the one-time code that lets its owner create the first. */
  setupCode: string | undefined;

  private constructor(options: ContextOptions) {
    this.config = options.config;
    this.site = options.config.site;
    this.webDir = options.webDir;
    this.now = options.now ?? Date.now;
    this.log = options.logger ?? pino({ level: options.logLevel ?? 'info', base: { site: formatAddress({ username: 'site', ...this.site }).slice(5) } });
    this.db = openDatabase(options.config.storage);
    this.dialect = dialectOf(this.db);
    const allowInsecure = options.config.dev;
    this.http = new HttpClient({ allowInsecure, userAgent: `Hearth/0.1 (+${options.config.origin})` });
    this.serverSigner = nodeSigner(options.config.serverKey);
    this.siteSigners = new SiteSigners(this.db);
    this.relayKeys = deriveRelayKeyPair(options.config.serverKey.secretKey, nodeX25519);
    this.fetcher = new PathAwareHttp(this.http, () => this.router, (url) => this.hearthSiteOf(url));
    this.directory = new Directory({
      db: this.db,
      http: this.fetcher,
      site: this.site,
      serverPublicKey: this.serverSigner.publicKey,
      allowInsecure,
      now: this.now,
      verify: this.verify,
      // Every profile fetched (for a key, a follow, a visit) keeps its name and picture for pages.
      onProfile: (address, profile) =>
        void rememberProfileDocument(this.db, formatAddress(address), profile, this.now()).catch((error: unknown) => this.log.debug({ err: (error as Error).message }, 'profile not remembered')),
    });
    this.batcher = new CommitBatcher(this.db);
    const storage = options.config.storage;
    this.quota = new QuotaGuard(options.config.dataDir, this.db, this.now, storage.kind === 'postgres' ? () => schemaBytes(this.db, storage.schema) : undefined);
    this.users = new LocalUserCache(this.db);
    this.live = new LiveEvents({ followersOf: (address) => this.users.followersOf(address), log: this.log });
    this.inbox = new Inbox({
      users: this.users,
      batcher: this.batcher,
      directory: this.directory,
      site: this.site,
      verify: this.verify,
      log: this.log,
      now: this.now,
      clock: () => this.siteNow(),
      onAccepted: (env) => void this.announcer.announce(env),
    });
    this.links = new LinkManager({
      site: this.site,
      serverSigner: this.serverSigner,
      directory: this.directory,
      verify: this.verify,
      allowInsecure,
      log: this.log,
      onEnvelope: (env, link) => this.receiveOverLink(env, link.peer),
      instance: options.config.natsUrl ? this.instance : undefined,
      onLinkUp: (peer) => {
        void this.router.directWorks(peer).catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'path not saved'));
        void this.outbox.expedite(peer).catch((error: unknown) => this.log.error({ err: error }, 'outbox expedite failed'));
        this.puller.pullSite(peer);
      },
    });
    this.relayPaths = new RelayPaths({ db: this.db, clock: () => this.siteNow(), now: this.now });
    this.router = new RelayRouter({
      db: this.db,
      site: this.site,
      x: nodeX25519,
      links: this.links,
      http: this.http,
      fetchDiscovery: (site) => this.directory.fetchJson(`${this.directory.origin(site)}/.well-known/hearth`),
      serverKeyOf: (site) => this.directory.serverKeyOf(site),
      origin: (s) => this.directory.origin(s),
      signerFor: (username) => this.signerFor(username),
      paths: this.relayPaths,
      hops: options.config.relayHops ?? DEFAULT_RELAY_HOPS,
      log: this.log,
      now: this.now,
    });
    this.fanout = new FanOut({
      db: this.db,
      site: this.site,
      signerFor: (username, executor) => this.signerFor(username, executor),
      clock: () => this.siteNow(),
      queued: () => this.outbox.wake(),
      quiet: (maxMs, busyAbove) => this.outbox.quiet(maxMs, busyAbove),
      log: this.log,
    });
    this.outbox = new OutboxWorker({
      router: this.router,
      db: this.db,
      site: this.site,
      links: this.links,
      inbox: this.inbox,
      http: this.http,
      origin: (s) => this.directory.origin(s),
      log: this.log,
      now: this.now,
      clock: () => this.siteNow(),
      restamp: (body) => this.restamp(body),
      // Several instances share the outbox only when they say so (cluster.nats): one instance
      // alone frees every claim at its start, at once.
      instance: options.config.natsUrl ? this.instance : undefined,
      onDelivered: (ids) => {
        if (this.pullAfterDelivery.size === 0) return;
        for (const id of ids) {
          const target = this.pullAfterDelivery.get(id);
          if (!target) continue;
          this.pullAfterDelivery.delete(id);
          void this.puller.pull(target);
        }
      },
    });
    this.relay = new RelayService({
      db: this.db,
      batcher: this.batcher,
      site: this.site,
      keys: this.relayKeys,
      x: nodeX25519,
      inbox: this.inbox,
      http: this.http,
      origin: (s) => this.directory.origin(s),
      signerFor: (username) => this.signerFor(username),
      forward: (dest, body, id) => this.outbox.deliverNow(dest, body, id),
      readLocal: (path, ifNoneMatch) => this.readLocal(path, ifNoneMatch),
      discovery: () => this.discoveryDocument(),
      quota: this.quota,
      log: this.log,
      now: this.now,
      clock: () => this.siteNow(),
    });
    this.inbox.relay = this.relay;
    this.tunnels = new RelayTunnels({
      site: this.site,
      origin: options.config.origin,
      originOf: (s) => this.directory.origin(s),
      allowPrivate: allowInsecure,
      admit: (owner, friend, proven) => this.relay.admitTunnel(owner, friend, proven),
      spend: (owner, friend, limits, bytes) => this.relay.spendTunnel(owner, friend, limits, bytes),
      keysOf: async (address) => {
        const profile = await lookupProfile(this, address);
        if (!profile.identityKey) throw new HearthError('bad_signature', `${formatAddress(address)} has no identity key, so no certified device`, { status: 401 });
        return { address: profile.address, identityKey: profile.identityKey, devices: profile.devices };
      },
      verify: this.verify,
      log: this.log,
    });
    this.puller = new Puller({
      db: this.db,
      http: this.fetcher,
      directory: this.directory,
      log: this.log,
      now: this.now,
      onPulled: (author) => void this.live.feedChanged(formatAddress(author)),
    });
    this.vaults = new VaultHub({
      db: this.db,
      log: this.log,
      now: this.now,
      verify: this.verify,
      origin: options.config.origin,
      addressOf: (username) => localAddressText(this.site, username),
      lookup: (address) => lookupProfile(this, address),
      relaysOf: async (username) => (await myRelays(this.db, username)).map((address) => ({ address, origin: this.directory.origin(parseAddress(address)) })),
    });
    this.announcer = new EnvelopeAnnouncer({ db: this.db, directory: this.directory, live: this.live, wakeVault: (username) => this.vaults.wake(username), now: this.now, log: this.log });
  }

  /**
   * The site runs as several instances: live events, vault requests and wakes, and changes to the
   * cached follows and blocks reach the other instances through the bus.
   */
  private useCluster(bus: ClusterBus): void {
    this.bus = bus;
    this.live.bridge = {
      // While the bus reconnects, this instance's own pages still hear (the others poll).
      publish: (username, event) => (bus.state() === 'connected' ? bus.publish(`live.${username}`, event) : this.live.deliver(username, event)),
    };
    bus.subscribe('live.*', (event, subject) => this.live.deliver(subject.slice('live.'.length), event as LiveEvent));
    this.vaults.useCluster(bus, this.instance);
    // A follow or block made at another instance is heard at once; if the bus is down, within 5 s.
    this.users.maxAgeMs = 5_000;
    this.users.onChange = (change) => bus.publish('cache', { ...change, from: this.instance });
    bus.subscribe('cache', (change) => {
      const c = change as { blocks?: string; following?: true; from?: string };
      if (c.from !== this.instance) this.users.forget(c);
    });
  }

  /** Whether the database answers now (PostgreSQL; for /healthz), within 2 s. */
  async databaseAnswers(): Promise<boolean> {
    const probe = sql`select 1`.execute(this.db).then(() => true, () => false);
    return Promise.race([probe, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref())]);
  }

  /** This Context itself, for code that keeps its site beyond a request (site-scope.ts). */
  get self(): Context {
    return this;
  }

  static async open(options: ContextOptions): Promise<Context> {
    const { storage, dbFile } = options.config;
    // A site whose data is still in its SQLite file must not start afresh on an empty PostgreSQL
    // schema because HEARTH_DATABASE_URL was set: moving the data is one command.
    if (storage.kind === 'postgres' && fs.existsSync(dbFile)) {
      throw new SiteConfigError(`this site's data is in ${dbFile}, not in PostgreSQL (${redactUrl(storage.url)}): move it with "hearth migrate-storage --data ${options.config.dataDir} --to ${redactUrl(storage.url)}", or unset HEARTH_DATABASE_URL to keep using the file`);
    }
    const ctx = new Context(options);
    try {
      await migrateToLatest(ctx.db);
    } catch (error) {
      await ctx.db.destroy().catch(() => undefined);
      throw storage.kind === 'postgres' ? new Error(`PostgreSQL at ${redactUrl(storage.url)} (schema ${storage.schema}): ${(error as Error).message}`, { cause: error }) : error;
    }
    if (options.config.natsUrl) {
      try {
        ctx.useCluster(await NatsBus.open(options.config.natsUrl, clusterScope(storage), ctx.log));
      } catch (error) {
        await ctx.db.destroy().catch(() => undefined);
        throw new SiteConfigError(`NATS at ${options.config.natsUrl} does not answer (${(error as Error).message}): start nats-server, or remove cluster.nats (HEARTH_NATS_URL) to run a single instance (docs/SCALING.md)`);
      }
    }
    ctx.clock = await SiteClock.load(ctx.db, ctx.now());
    const anyone = await ctx.db.selectFrom('users').select('username').limit(1).executeTakeFirst();
    if (!anyone) ctx.setupCode = randomToken(18);
    return ctx;
  }

  /** Starts background work: outbox delivery, links to the sites we follow or are followed by, pulls. */
  async startBackground(): Promise<void> {
    // Is the database sound, and does it hold everything this site had acknowledged? Both are
    // said plainly in the log (docs/DEPLOY.md, "Recovery"); the site still starts.
    // (PostgreSQL checks and recovers its own files; these are the embedded file's checks.)
    if (this.dialect === 'sqlite') {
      const problem = await quickCheck(this.db);
      if (problem) {
        this.databaseProblem = problem;
        this.log.error({ quickCheck: problem }, `the database file ${this.config.dbFile} is damaged (SQLite quick_check: ${problem}); restore it from a backup (docs/DEPLOY.md, "Recovery")`);
      }
      this.ackMarks = new AckMarks(this.db, AckMarks.fileIn(this.config.dataDir), this.log);
      if (!(await this.ackMarks.check())) this.databaseProblem ??= 'acknowledged writes were lost at the last start';
      await this.ackMarks.save();
      this.ackMarks.start();
    }
    this.loopDelay ??= acquireLoopDelay();
    await this.outbox.start();
    this.fanout.wake(); // fan-outs that a stop or crash left halfway go on
    this.puller.start();
    const prune = () => void this.inbox.pruneSeen().catch((error: unknown) => this.log.error({ err: error }, 'pruning seen envelope ids failed'));
    prune();
    this.pruneTimer = setInterval(prune, 24 * 60 * 60 * 1000);
    this.pruneTimer.unref();
    // The site clock goes on from here at the next start: save it now and then (a crash loses
    // at most these seconds, which only makes schedules and retention a little longer).
    this.clockTimer = setInterval(() => void this.clock?.save(this.db).catch(() => undefined), 10_000);
    this.clockTimer.unref();
    await this.removeOwnCopies();
    // Links to the relays people here use, kept up like those to friends: a relay is ready when the direct path fails.
    for (const { address } of await allMyRelays(this.db)) this.links.want(parseAddress(address));
    for (const target of await linkedSites(this.db)) {
      const at = target.indexOf('@');
      this.links.want(parseHostPort(target.slice(at + 1)));
    }
    // The start-up check read every page: give the page cache back (it fills again as needed).
    if (this.dialect === 'sqlite') await sql`PRAGMA shrink_memory`.execute(this.db);
  }

  /**
   * Copies of this site's own posts, which local follows once received through the site's own
   * inbox (now their feeds read the posts directly): never shown, so removed, once.
   */
  private async removeOwnCopies(): Promise<void> {
    const done = await this.db.selectFrom('site_meta').select('value').where('key', '=', 'own_copies_removed').executeTakeFirst();
    if (done) return;
    const authors = await this.db.selectFrom('remote_posts').select('author').distinct().execute();
    const own = authors.map((a) => a.author).filter((a) => a.endsWith(`@${formatSite(this.site)}`));
    if (own.length > 0) await this.db.deleteFrom('remote_posts').where('author', 'in', own).execute();
    await this.db.insertInto('site_meta').values({ key: 'own_copies_removed', value: '1' }).onConflict((oc) => oc.column('key').doNothing()).execute();
  }

  /** The discovery document (/.well-known/hearth; federation/discovery.ts). */
  discoveryDocument(): Promise<Record<string, unknown>> {
    return discoveryDocument({ origin: this.config.origin, name: this.site, serverSigner: this.serverSigner, relayKeys: this.relayKeys, db: this.db });
  }

  /** The other Hearth site a URL belongs to (its origin is that site's), or null. */
  private hearthSiteOf(url: URL): SiteName | null {
    try {
      const site = siteFromUrl(url.origin);
      return !sameSite(site, this.site) && this.directory.origin(site) === url.origin ? site : null;
    } catch {
      return null;
    }
  }

  /**
   * Envelopes whose delivery should start a pull of their recipient: a follow. The author's site
   * pushes new posts only to followers it knows of; a post made between the first pull and the
   * follow's arrival would otherwise wait for the next periodic pull. (In memory: after a restart
   * the link-up and periodic pulls cover it.)
   */
  readonly pullAfterDelivery = new Map<string, Address>();

  /** The site key of a local user (federation/signers.ts); pass the open transaction when inside one. */
  signerFor(username: string, executor: Kysely<Database> = this.db): Promise<Signer> {
    return this.siteSigners.signerFor(username, executor);
  }

  /**
   * The same envelope (same id, same data) with `ts` from this site's clock now and signed again;
   * a post's or comment's createdAt that a fast clock put later than the new ts comes down to it.
   */
  private async restamp(body: string): Promise<string> {
    const env = JSON.parse(body) as Envelope;
    const ts = new Date(this.now()).toISOString();
    const data = JSON.parse(JSON.stringify(env.data)) as { post?: { createdAt?: string }; comment?: { createdAt?: string } };
    for (const item of [data.post, data.comment]) if (item?.createdAt && item.createdAt > ts) item.createdAt = ts;
    return JSON.stringify(createEnvelope({ ...env, data: data as Envelope['data'], id: env.id, ts }, await this.signerFor(env.from.username)));
  }

  private storageFullAt: number | undefined;
  private storageLoggedAt = 0;

  /**
   * A write failed because the disk is full: say so in the log in plain words (at most every
   * 10 s, never a stack trace), and let the health endpoint report it for a minute.
   */
  storageTrouble(error: unknown): void {
    const now = Date.now();
    this.storageFullAt = now;
    if (now - this.storageLoggedAt > 10_000) {
      this.storageLoggedAt = now;
      const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
      this.log.error({ code: 'storage_full', sqlite: cause?.code, detail: cause?.message }, `the disk holding ${this.config.dataDir} is full: writes are refused (507) until there is space again; nothing acknowledged is lost`);
    }
  }

  storageState(): 'ok' | 'full' | 'damaged' {
    if (this.storageFullAt !== undefined && Date.now() - this.storageFullAt < 60_000) {
      // Until the disk has room again: then writes will work, and the state clears at once.
      let low = true;
      try {
        low = diskSpace(this.config.dataDir).low;
      } catch {
        /* cannot tell: keep saying full for the minute */
      }
      if (low) return 'full';
      this.storageFullAt = undefined;
    }
    return this.databaseProblem ? 'damaged' : 'ok';
  }

  private loopDelay: IntervalHistogram | undefined;

  /** The event loop's longest and 99th-percentile delay in ms since the last reset (the process's loop, shared by its sites). */
  eventLoopDelay(reset: boolean): { maxMs: number; p99Ms: number } {
    if (!this.loopDelay) return { maxMs: 0, p99Ms: 0 };
    const figures = { maxMs: Math.round(this.loopDelay.max / 1e6), p99Ms: Math.round(this.loopDelay.percentile(99) / 1e6) };
    if (reset) this.loopDelay.reset();
    return figures;
  }

  /** What the start-up checks found wrong with the database, if anything. */
  databaseProblem: string | undefined;
  private ackMarks: AckMarks | undefined;

  private async receiveOverLink(env: unknown, peer: SiteName): Promise<AckResult> {
    try {
      return ackForResult(await this.inbox.receive(env, { peer }));
    } catch (raw) {
      const error = asStorageError(raw);
      if (error instanceof StorageFullError) this.storageTrouble(error);
      if (!(error instanceof HearthError)) this.log.error({ err: error }, 'inbox failed');
      return ackForError(error, this.now());
    }
  }

  /** Stops background work, lets in-flight acks and commits land, then closes the database. */
  async close(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.clockTimer) clearInterval(this.clockTimer);
    if (this.loopDelay) releaseLoopDelay();
    this.loopDelay = undefined;
    this.outbox.stop();
    this.fanout.stop();
    this.links.close();
    this.vaults.close();
    this.tunnels.close();
    await this.relay.close();
    await this.puller.stop();
    await this.outbox.settled();
    await this.fanout.settled();
    await this.batcher.idle();
    await this.clock?.save(this.db).catch(() => undefined);
    await this.ackMarks?.stop();
    this.http.close();
    await this.bus?.close();
    await this.db.destroy();
  }
}

/**
 * The scope of a site's subjects on the bus: its schema, and which database that schema is in (two
 * databases may both hold a schema of that name).
 */
function clusterScope(storage: DatabaseTarget): string {
  if (storage.kind !== 'postgres') throw new Error('several instances need PostgreSQL');
  const where = new URL(storage.url);
  const database = createHash('sha256').update(`${where.hostname}:${where.port}${where.pathname}`).digest('hex').slice(0, 10);
  return `${storage.schema}_${database}`;
}
