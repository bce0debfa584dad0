import crypto from 'node:crypto';
import {
  fastSafeParse,
  fromBase64url,
  parseAddress,
  parseLimitedJson,
  VAULT_FRAME_MAX_BYTES,
  VAULT_WINDOW,
  VaultClientFrameSchema,
  vaultLinkProofBytes,
  HearthError,
  type DmCiphertext,
  type VaultClientFrame,
  type VaultServerFrame,
  type VerifyFn,
} from '@hearth/protocol';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { NoResponderError, type ClusterBus } from '../cluster/bus.js';
import { ApiError } from '../errors.js';
import { corkableSocket } from '../net/cork.js';
import type { Db } from '../storage/db.js';
import { countQueued, deleteAcked, queuedForVault, vaultByDevice } from '../storage/vault.js';

/** Close codes the vault acts on: 4003 means "not paired" (stop and say so), the rest mean "retry later". */
export const VAULT_CLOSE = { badFrame: 4000, notPaired: 4003, timeout: 4008, replaced: 4009, unpaired: 4010 } as const;

const HANDSHAKE_TIMEOUT_MS = 10_000;
const PING_EVERY_MS = 30_000;
const REQUEST_TIMEOUT_MS = 30_000;

export interface VaultHubOptions {
  db: Db;
  log: Logger;
  now: () => number;
  verify: VerifyFn;
  /** The site's origin, which the vault's proof names. */
  origin: string;
  addressOf: (username: string) => string;
  /** A person's public profile with device keys, as /api/lookup answers it. */
  lookup: (address: ReturnType<typeof parseAddress>) => Promise<unknown>;
  /** The owner's relays (address and origin), which the vault keeps for when it cannot reach this site. */
  relaysOf: (username: string) => Promise<Array<{ address: string; origin: string }>>;
}

/**
 * The backend's side of the vault links: at most one live link per user. It authenticates the
 * vault by its device key, streams the user's vault queue a window at a time, deletes what the
 * vault acks, answers the vault's key lookups and relays sealed requests from the user's devices.
 */
export class VaultHub {
  private readonly sessions = new Map<string, VaultSession>();
  /** The bus to the other instances of this site (docs/SCALING.md), when there are any. */
  private cluster: { bus: ClusterBus; instance: string } | undefined;
  private clusterOff: (() => void) | undefined;

  constructor(private readonly options: VaultHubOptions) {}

  /**
   * With several instances, a vault links to one of them; requests and wakes that arrive at another
   * find it through the bus, and a vault that links again elsewhere ends its older link here.
   */
  useCluster(bus: ClusterBus, instance: string): void {
    this.cluster = { bus, instance };
    this.clusterOff = bus.subscribe('vault.linked.*', (data, subject) => {
      const username = subject.slice('vault.linked.'.length);
      if ((data as { instance?: string })?.instance !== instance) this.sessions.get(username)?.close(VAULT_CLOSE.replaced, 'replaced by a newer connection of the vault');
    });
  }

  accept(socket: WebSocket): void {
    const nonce = crypto.randomBytes(32).toString('base64url');
    const timer = setTimeout(() => socket.close(VAULT_CLOSE.timeout, 'send hello first'), HANDSHAKE_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(timer));
    socket.once('message', (data: Buffer) => {
      clearTimeout(timer);
      this.authenticate(socket, nonce, data).catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'vault handshake failed');
        socket.close(VAULT_CLOSE.badFrame, 'handshake failed');
      });
    });
    send(socket, { t: 'challenge', nonce });
  }

  private async authenticate(socket: WebSocket, nonce: string, data: Buffer): Promise<void> {
    const frame = parseFrame(data);
    if (!frame || frame.t !== 'hello') return socket.close(VAULT_CLOSE.badFrame, 'expected hello');
    const vault = await vaultByDevice(this.options.db, frame.device);
    const proof = vaultLinkProofBytes(this.options.origin, nonce, frame.device);
    if (!vault || vault.device_owner !== vault.username || !this.options.verify(proof, fromBase64url(frame.sig), vault.sign_key)) {
      return socket.close(VAULT_CLOSE.notPaired, 'this is not a paired vault of this site');
    }
    if (socket.readyState !== socket.OPEN) return;
    this.sessions.get(vault.username)?.close(VAULT_CLOSE.replaced, 'replaced by a newer connection of the vault');
    const session = new VaultSession(socket, vault.username, vault.device_id, this.options);
    this.sessions.set(vault.username, session);
    const unroute = this.routeThroughCluster(vault.username, session);
    socket.on('close', () => {
      if (this.sessions.get(vault.username) === session) this.sessions.delete(vault.username);
      unroute();
      session.ended();
      void this.touch(vault.username);
    });
    await this.touch(vault.username);
    const [queued, relays] = await Promise.all([countQueued(this.options.db, vault.username), this.options.relaysOf(vault.username)]);
    send(socket, { t: 'ready', address: this.options.addressOf(vault.username), queued, relays });
    session.start();
  }

  private async touch(username: string): Promise<void> {
    await this.options.db
      .updateTable('vaults')
      .set({ last_seen_at: this.options.now() })
      .where('username', '=', username)
      .execute()
      .catch((error: unknown) => this.options.log.warn({ err: error }, 'vault last-seen update failed'));
  }

  /** Lets the other instances reach this vault link: its requests, its wakes, and "is it online". */
  private routeThroughCluster(username: string, session: VaultSession): () => void {
    if (!this.cluster) return () => undefined;
    const { bus, instance } = this.cluster;
    bus.publish(`vault.linked.${username}`, { instance });
    const offs = [
      bus.respond(`vault.request.${username}`, async (sealed) => session.request(sealed as DmCiphertext)),
      bus.respond(`vault.online.${username}`, async () => true),
      bus.subscribe(`vault.wake.${username}`, () => session.pump()),
    ];
    return () => offs.forEach((off) => off());
  }

  /** Something was queued for this user's vault: send it now if the vault is online (here, or at another instance). */
  wake(username: string): void {
    const session = this.sessions.get(username);
    if (session) session.pump();
    else this.cluster?.bus.publish(`vault.wake.${username}`, {});
  }

  /** Whether the user's vault is linked now (to this instance or another). */
  async isOnline(username: string): Promise<boolean> {
    if (this.sessions.has(username)) return true;
    if (!this.cluster) return false;
    return this.cluster.bus.request(`vault.online.${username}`, {}, 1000).then(
      () => true,
      () => false,
    );
  }

  /** Ends the link of a vault that was unpaired. */
  disconnect(username: string, deviceId?: string): void {
    const session = this.sessions.get(username);
    if (session && (deviceId === undefined || session.deviceId === deviceId)) session.close(VAULT_CLOSE.notPaired, 'this vault was unpaired');
  }

  /** Relays a sealed request from one of the user's devices and waits for the vault's sealed answer. */
  async request(username: string, sealed: DmCiphertext): Promise<DmCiphertext> {
    const session = this.sessions.get(username);
    if (session) return session.request(sealed);
    const offline = () => new ApiError('vault_offline', 'your vault is not connected right now; try again when it is online', { status: 503 });
    if (!this.cluster) throw offline();
    try {
      // (the other instance's own timeout answers first, as vault_timeout)
      return (await this.cluster.bus.request(`vault.request.${username}`, sealed, REQUEST_TIMEOUT_MS + 5_000)) as DmCiphertext;
    } catch (error) {
      if (error instanceof NoResponderError) throw offline();
      const e = error as { code?: string; message?: string; status?: number };
      if (e.code && e.status) throw new ApiError(e.code as 'vault_offline', e.message ?? 'the vault failed', { status: e.status });
      throw offline();
    }
  }

  close(): void {
    this.clusterOff?.();
    for (const session of this.sessions.values()) session.close(1001, 'site is stopping');
    this.sessions.clear();
  }
}

class VaultSession {
  private lastSent = 0;
  private readonly inFlight = new Set<number>();
  private pumping = false;
  private again = false;
  private closed = false;
  private nextRid = 1;
  private readonly pending = new Map<number, { resolve: (sealed: DmCiphertext) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  private pingTimer: NodeJS.Timeout | undefined;
  private alive = true;

  constructor(
    private readonly socket: WebSocket,
    readonly username: string,
    readonly deviceId: string,
    private readonly options: VaultHubOptions,
  ) {}

  start(): void {
    this.socket.on('message', (data: Buffer) => this.onMessage(data));
    this.socket.on('pong', () => (this.alive = true));
    this.pingTimer = setInterval(() => {
      if (!this.alive) return this.socket.terminate();
      this.alive = false;
      this.socket.ping();
    }, PING_EVERY_MS);
    this.pingTimer.unref();
    this.pump();
  }

  /** Sends queued rows until the window is full; one pass at a time, re-run if woken meanwhile. */
  pump(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.fill()
      .catch((error: unknown) => this.options.log.error({ err: error }, 'vault queue read failed'))
      .finally(() => {
        this.pumping = false;
        if (this.again) {
          this.again = false;
          this.pump();
        }
      });
  }

  private async fill(): Promise<void> {
    while (!this.closed && this.inFlight.size < VAULT_WINDOW) {
      const rows = await queuedForVault(this.options.db, this.username, this.lastSent, VAULT_WINDOW - this.inFlight.size);
      if (rows.length === 0) return;
      if (this.socket.readyState !== this.socket.OPEN) return;
      // The rows leave in one write (below), and each frame is written around the stored
      // ciphertext's JSON, which this site wrote itself when it stored the DM: parsing it only to
      // write it out again cost more than sending it.
      const tcp = corkableSocket(this.socket);
      tcp?.cork();
      try {
        for (const row of rows) {
          const seq = Number(row.seq);
          this.lastSent = Math.max(this.lastSent, seq);
          this.inFlight.add(seq);
          this.socket.send(dmFrame(seq, row));
        }
      } finally {
        tcp?.uncork();
      }
    }
  }

  private onMessage(data: Buffer): void {
    const frame = parseFrame(data);
    if (!frame) return this.close(VAULT_CLOSE.badFrame, 'bad frame');
    switch (frame.t) {
      case 'ack': {
        const mine = frame.seqs.filter((seq) => this.inFlight.delete(seq));
        deleteAcked(this.options.db, this.username, mine).then(
          () => this.pump(),
          (error: unknown) => this.options.log.error({ err: error }, 'vault ack failed'),
        );
        return;
      }
      case 'lookup':
        void this.lookup(frame.rid, frame.address);
        return;
      case 'response': {
        const waiting = this.pending.get(frame.rid);
        if (!waiting) return;
        this.pending.delete(frame.rid);
        clearTimeout(waiting.timer);
        if (frame.sealed) waiting.resolve(frame.sealed);
        else waiting.reject(new ApiError(frame.error?.code ?? 'vault_error', `your vault refused: ${frame.error?.message ?? 'no reason given'}`, { status: 400 }));
        return;
      }
      default:
        return this.close(VAULT_CLOSE.badFrame, `unexpected ${frame.t}`);
    }
  }

  private async lookup(rid: number, addressText: string): Promise<void> {
    try {
      const profile = await this.options.lookup(parseAddress(addressText));
      send(this.socket, { t: 'lookup', rid, profile });
    } catch (error) {
      const e = error instanceof HearthError ? error : new ApiError('internal', 'lookup failed', { status: 500 });
      send(this.socket, { t: 'lookup', rid, error: { code: e.code, message: e.message } });
    }
  }

  request(sealed: DmCiphertext): Promise<DmCiphertext> {
    return new Promise((resolve, reject) => {
      const rid = this.nextRid++;
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new ApiError('vault_timeout', 'your vault did not answer in time', { status: 504 }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(rid, { resolve, reject, timer });
      send(this.socket, { t: 'request', rid, sealed });
    });
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
    this.ended();
  }

  ended(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new ApiError('vault_offline', 'your vault disconnected before answering', { status: 503 }));
    }
    this.pending.clear();
  }
}

/**
 * A `dm` frame (VaultServerFrameSchema) for a queued row, with the row's ciphertext JSON as its
 * `message`, as stored.
 */
export function dmFrame(seq: number, row: { envelope_id: string; direction: 'in' | 'out'; peer: string; ciphertext: string; created_at: number | string }): string {
  const createdAt = new Date(Number(row.created_at)).toISOString();
  return `{"t":"dm","seq":${seq},"id":${JSON.stringify(row.envelope_id)},"direction":${JSON.stringify(row.direction)},"peer":${JSON.stringify(row.peer)},"message":${row.ciphertext},"createdAt":"${createdAt}"}`;
}

function send(socket: WebSocket, frame: VaultServerFrame): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame));
}

function parseFrame(data: Buffer): VaultClientFrame | undefined {
  try {
    const parsed = fastSafeParse(VaultClientFrameSchema, parseLimitedJson(data.toString('utf8'), { maxBytes: VAULT_FRAME_MAX_BYTES, maxDepth: 16 }));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
