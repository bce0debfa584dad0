import { EventEmitter } from 'node:events';
import {
  HistoryRequestSchema,
  nextRetryDelay,
  openFromDevice,
  sealForDevice,
  VAULT_FRAME_MAX_BYTES,
  VAULT_WINDOW,
  VaultServerFrameSchema,
  vaultLinkProofBytes,
  CryptoError,
  fastSafeParse,
  type VaultClientFrame,
  type VaultServerFrame,
} from '@hearth/protocol';
import { nodeSigner, nodeVerify } from '@hearth/protocol/node';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import type { VaultSecrets } from './config.js';
import { openTunnel, TunnelError, type VaultRelay } from './tunnel.js';
import { LookupRefused, LookupUnavailable, SenderCheck, type ProfileKeys } from './sender-check.js';
import type { VaultMessage, VaultStore } from './vault-store.js';
import { DmOpener } from './dm-opener.js';
import type { Opened } from './dm-open.js';

type DmFrame = Extract<VaultServerFrame, { t: 'dm' }>;

/** What the vault reports as it runs; never message content. */
export type VaultEvent =
  | { type: 'connected'; queued: number; via?: string }
  | { type: 'relay_failed'; via: string; reason: string }
  | { type: 'synced'; stored: number; duplicates: number; rejected: number; total: number }
  | { type: 'rejected'; id: string; peer: string; reason: string }
  | { type: 'history'; device: string; messages: number }
  | { type: 'disconnected'; reason: string; retryInMs: number }
  | { type: 'fatal'; code: string; message: string };

/** The link retries from half a second up to a minute between tries, for as long as the vault runs. */
const RECONNECT = { baseMs: 500, maxDelayMs: 60_000, giveUpAfterMs: Number.POSITIVE_INFINITY };
/** The backend pings every 30 s; silence for this long means the path is gone. */
const SILENCE_MS = 75_000;
const LOOKUP_TIMEOUT_MS = 30_000;
/** History answers stay under the backend's frame limit, sealing and base64 included. */
const HISTORY_PAGE_BYTES = 64 * 1024;
/** Messages stored (and acked) per transaction: a quarter of the backend's window, so it always has some to send. */
const STORE_CHUNK = VAULT_WINDOW / 4;
const SYNCED_EVERY_MS = 2_000;
/**
 * While linked through a relay, the direct path is tried again (one small GET) every 30 s for the
 * first 10 minutes, when a block is most likely to be brief, then every 5 minutes.
 */
const DIRECT_PROBE = { firstMs: 15_000, everyMs: 30_000, laterMs: 5 * 60_000, laterAfterMs: 10 * 60_000 };

type Outcome = { code: number; reason: string; ready: boolean; opened: boolean };

/**
 * The vault's outbound link to its owner's backend: it dials out (so it works behind NAT),
 * proves itself with its device key, stores every DM of the queue (decrypted, checked, sealed at
 * rest) and acks it only after the store has committed it. Whatever was not acked comes again
 * after a reconnect, and the store keeps each message id once: nothing lost, nothing doubled.
 */
export class VaultLink extends EventEmitter {
  private stopped = false;
  private socket: WebSocket | undefined;
  private tunnel: WebSocket | undefined;
  private wake: (() => void) | undefined;
  private readonly batch: Array<{ socket: WebSocket; frame: DmFrame }> = [];
  private working: Promise<void> = Promise.resolve();
  private readonly opener: DmOpener;
  private scheduled = false;
  private nextRid = 1;
  private readonly lookups = new Map<number, { resolve: (profile: ProfileKeys) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  private readonly senders: SenderCheck;
  private stats = { stored: 0, duplicates: 0, rejected: 0 };
  private lastSynced = 0;
  /** Resolves when the link stops for good: stop() or a refusal that retrying cannot fix. */
  readonly done: Promise<void>;
  private finish!: (error?: Error) => void;

  constructor(
    private readonly store: VaultStore,
    private readonly secrets: VaultSecrets,
    /** Relays named when the vault was started, tried after those its site told it about. */
    private readonly extraRelays: VaultRelay[] = [],
    /** Threads that open DMs while the vault catches up (default: one per core; 0 opens them in place). */
    openThreads?: number,
  ) {
    super();
    this.done = new Promise<void>((resolve, reject) => {
      this.finish = (error) => (error ? reject(error) : resolve());
    });
    this.opener = new DmOpener(secrets.device, openThreads === undefined ? {} : { threads: openThreads });
    const contacts = () => store.getSecret<Record<string, string>>('contacts') ?? {};
    this.senders = new SenderCheck(
      { address: secrets.config.address, identityKey: secrets.identity.publicKey },
      (address) => this.lookup(address),
      { get: (address) => contacts()[address], set: (address, key) => store.setSecret('contacts', { ...contacts(), [address]: key }) },
      nodeVerify,
    );
  }

  start(): this {
    void this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.socket?.close(1000, 'vault stopping');
    this.tunnel?.terminate();
    await this.working;
    await this.opener.close();
    this.finish();
  }

  /**
   * The owner's relays, for when the site cannot be reached (PROTOCOL.md §9): those the site named
   * at the last link (kept in the store, since a blocked site cannot be asked), then those given
   * at start.
   */
  relays(): VaultRelay[] {
    const all = [...(this.store.getSecret<VaultRelay[]>('relays') ?? []), ...this.extraRelays];
    return all.filter((relay, i) => all.findIndex((r) => r.address === relay.address) === i);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      let outcome = await this.connectOnce();
      // The site could not be reached at all (not a refusal): go through a friend's relay.
      if (!outcome.opened && outcome.code !== 4003) {
        for (const relay of this.relays()) {
          if (this.stopped) break;
          const relayed = await this.connectOnce(relay);
          if (relayed.opened) {
            outcome = relayed;
            break;
          }
          this.emit('event', { type: 'relay_failed', via: relay.address, reason: relayed.reason } satisfies VaultEvent);
        }
      }
      if (this.stopped) break;
      if (outcome.code === 4003) {
        const message = `${this.secrets.config.site} does not know this vault any more (${outcome.reason || 'not paired'}): pair it again with a new code`;
        this.emit('event', { type: 'fatal', code: 'not_paired', message } satisfies VaultEvent);
        this.stopped = true;
        await this.opener.close();
        this.finish(Object.assign(new Error(message), { code: 'not_paired' }));
        return;
      }
      if (outcome.ready) attempt = 0;
      const delay = nextRetryDelay(attempt++, 0, Math.random, RECONNECT) ?? RECONNECT.maxDelayMs;
      this.emit('event', { type: 'disconnected', reason: outcome.reason, retryInMs: delay } satisfies VaultEvent);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    this.finish();
  }

  /** One link to the site, directly or through `via`; resolves when it ends. */
  private async connectOnce(via?: VaultRelay): Promise<Outcome> {
    let stream: Duplex | undefined;
    if (via) {
      try {
        stream = await openTunnel(via, { address: this.secrets.config.address, device: this.secrets.device, siteOrigin: this.secrets.config.origin }, (socket) => (this.tunnel = socket));
      } catch (error) {
        return { code: 0, reason: error instanceof TunnelError ? error.message : String(error), ready: false, opened: false };
      }
      if (this.stopped) {
        stream.destroy();
        return { code: 1000, reason: 'vault stopping', ready: false, opened: false };
      }
    }
    // Through a tunnel the link goes to the site's own origin: the one place a relay pipes to.
    const base = via ? this.secrets.config.origin : this.secrets.config.site;
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/api/vault/link`, {
      maxPayload: VAULT_FRAME_MAX_BYTES,
      handshakeTimeout: 15_000,
      ...(stream ? { createConnection: (() => stream) as never } : {}),
    });
    const outcome = await this.runLink(socket, via);
    stream?.destroy();
    this.tunnel = undefined;
    return outcome;
  }

  private runLink(socket: WebSocket, via: VaultRelay | undefined): Promise<Outcome> {
    return new Promise((resolve) => {
      this.socket = socket;
      let ready = false;
      let opened = false;
      let failure = '';
      let silence: NodeJS.Timeout | undefined;
      let probe: NodeJS.Timeout | undefined;
      const heard = () => {
        clearTimeout(silence);
        silence = setTimeout(() => socket.terminate(), SILENCE_MS);
      };
      // Through a relay, the direct path is tried now and then; when it answers, this link ends
      // and the next one goes direct.
      const since = Date.now();
      const probeDirect = (wait: number) => {
        probe = setTimeout(() => {
          void fetch(`${this.secrets.config.site}/.well-known/hearth`, { signal: AbortSignal.timeout(5_000) }).then(
            () => socket.close(1000, 'the direct path is back'),
            () => probeDirect(Date.now() - since < DIRECT_PROBE.laterAfterMs ? DIRECT_PROBE.everyMs : DIRECT_PROBE.laterMs),
          );
        }, wait);
      };
      heard();
      socket.on('open', () => (opened = true));
      socket.on('ping', heard);
      socket.on('error', (error) => (failure = error.message));
      socket.on('message', (data: Buffer) => {
        heard();
        const frame = parseFrame(data);
        if (!frame) return socket.close(4000, 'bad frame');
        if (frame.t === 'ready') {
          ready = true;
          if (frame.relays) this.store.setSecret('relays', frame.relays);
          if (via) probeDirect(DIRECT_PROBE.firstMs);
          this.emit('event', { type: 'connected', queued: frame.queued, ...(via ? { via: via.address } : {}) } satisfies VaultEvent);
        }
        this.onFrame(socket, frame);
      });
      socket.on('close', (code, reason) => {
        clearTimeout(silence);
        clearTimeout(probe);
        for (const [rid, waiting] of this.lookups) {
          clearTimeout(waiting.timer);
          waiting.reject(new LookupUnavailable('the link closed'));
          this.lookups.delete(rid);
        }
        resolve({ code, reason: reason.toString() || failure || `closed (${code})`, ready, opened });
      });
    });
  }

  private onFrame(socket: WebSocket, frame: VaultServerFrame): void {
    switch (frame.t) {
      case 'challenge': {
        const proof = vaultLinkProofBytes(this.secrets.config.origin, frame.nonce, this.secrets.device.id);
        const sig = Buffer.from(nodeSigner(this.secrets.device.sign).sign(proof)).toString('base64url');
        return send(socket, { t: 'hello', device: this.secrets.device.id, sig });
      }
      case 'dm':
        this.batch.push({ socket, frame });
        this.scheduleStore();
        return;
      case 'lookup': {
        const waiting = this.lookups.get(frame.rid);
        if (!waiting) return;
        this.lookups.delete(frame.rid);
        clearTimeout(waiting.timer);
        if (frame.profile) return waiting.resolve(frame.profile as ProfileKeys);
        const refused = frame.error && ['not_found', 'invalid_address', 'invalid_request'].includes(frame.error.code);
        return waiting.reject(new (refused ? LookupRefused : LookupUnavailable)(frame.error?.message ?? 'lookup failed'));
      }
      case 'request':
        void this.answer(socket, frame.rid, frame.sealed);
        return;
      case 'error':
        return socket.close(1000, frame.message);
      default:
        return;
    }
  }

  /**
   * Takes the next chunk of arrived DMs (on the next turn of the event loop, so a burst of frames
   * makes full chunks), starts opening it at once (on the opener's threads) and queues its storing
   * behind the chunks before it: threads open the next chunks while this one is stored.
   */
  private scheduleStore(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const items = this.batch.splice(0, STORE_CHUNK);
      if (this.batch.length > 0) this.scheduleStore();
      const me = this.secrets.config.address;
      const opened = this.opener.open(
        items.map(({ frame }) => {
          const signKeys = this.senders.knownSignKeys(frame.direction === 'in' ? frame.peer : me);
          return { message: frame.message, ...(signKeys ? { signKeys } : {}) };
        }),
      );
      // Handled where the chain awaits it; this keeps a failure in the meantime from counting as unhandled.
      opened.catch(() => undefined);
      this.working = this.working
        .then(() => this.storeOpened(items, opened))
        .catch((error: unknown) => {
          // Nothing of the failed chunk was acked: a fresh link brings it again.
          this.emit('event', { type: 'disconnected', reason: `storing failed: ${(error as Error).message}`, retryInMs: 0 } satisfies VaultEvent);
          this.socket?.close(1011, 'storing failed');
        });
    });
  }

  /**
   * Checks the senders of an opened chunk and stores it in one transaction, then acks it. Acking
   * a chunk (a quarter of the window) at a time lets the backend send the next DMs while the vault
   * works on the rest, instead of both taking turns.
   */
  private async storeOpened(items: Array<{ socket: WebSocket; frame: DmFrame }>, opening: Promise<Opened[]>): Promise<void> {
    const results = await opening;
    const me = this.secrets.config.address;
    const messages: VaultMessage[] = [];
    const acks = new Map<WebSocket, number[]>();
    for (const [i, { socket, frame }] of items.entries()) {
      if (socket.readyState !== WebSocket.OPEN) continue; // it will come again on the next link
      const result = results[i]!;
      const from = frame.direction === 'in' ? frame.peer : me;
      const to = frame.direction === 'in' ? me : frame.peer;
      // Why this DM is refused (it is acked and dropped, and reported), or null when it is genuine.
      let refusal: string | null;
      if ('error' in result) refusal = result.error.message;
      else {
        try {
          const problem = await this.senders.check(result.plain, { from, to }, result.verified);
          refusal = problem ? `message ${problem}` : null;
        } catch (error) {
          if (error instanceof LookupUnavailable) {
            // The sender's keys cannot be fetched now: leave this message unacked and retry on a new link.
            socket.close(1013, `could not verify a sender now: ${error.message}`);
            continue;
          }
          if (!(error instanceof CryptoError)) throw error;
          refusal = error.message;
        }
      }
      if (refusal !== null) {
        this.stats.rejected++;
        this.emit('event', { type: 'rejected', id: frame.id, peer: frame.peer, reason: refusal } satisfies VaultEvent);
      } else if ('plain' in result) {
        // Stored by the message's own id (inside the signed plaintext), not the envelope's: the same
        // message replayed in another envelope is then the same row, kept once.
        const { plain } = result;
        messages.push({ id: plain.id, from, to, sentAt: plain.sentAt, text: plain.text });
      }
      const seqs = acks.get(socket);
      if (seqs) seqs.push(frame.seq);
      else acks.set(socket, [frame.seq]);
    }
    if (acks.size === 0) return; // nothing from a live link in this batch
    const added = this.store.add(me, messages);
    this.stats.stored += added;
    this.stats.duplicates += messages.length - added;
    for (const [socket, seqs] of acks) send(socket, { t: 'ack', seqs });
    // Progress a line at a time: when caught up with what has arrived, and every few seconds of a long sync.
    const now = Date.now();
    if (this.batch.length === 0 || now - this.lastSynced >= SYNCED_EVERY_MS) {
      this.lastSynced = now;
      this.emit('event', { type: 'synced', ...this.stats, total: this.store.count() } satisfies VaultEvent);
    }
  }

  private lookup(address: string): Promise<ProfileKeys> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return Promise.reject(new LookupUnavailable('not connected'));
    return new Promise((resolve, reject) => {
      const rid = this.nextRid++;
      const timer = setTimeout(() => {
        this.lookups.delete(rid);
        reject(new LookupUnavailable(`no answer about ${address}`));
      }, LOOKUP_TIMEOUT_MS);
      this.lookups.set(rid, { resolve, reject, timer });
      send(socket, { t: 'lookup', rid, address });
    });
  }

  /** A history request from one of the owner's devices: only a certified device gets an answer, sealed to it. */
  private async answer(socket: WebSocket, rid: number, sealed: Extract<VaultServerFrame, { t: 'request' }>['sealed']): Promise<void> {
    try {
      const mine = await this.senders.keysOf(this.secrets.config.address, true);
      const request = openFromDevice(sealed, this.secrets.device, HistoryRequestSchema, (id) => mine.signKeys.get(id));
      const device = mine.devices.find((d) => d.id === request.fromDevice)!;
      const page = this.store.page(this.secrets.config.address, {
        after: request.body.after,
        limit: request.body.limit,
        peer: request.body.with,
        maxBytes: HISTORY_PAGE_BYTES,
      });
      send(socket, { t: 'response', rid, sealed: sealForDevice(this.secrets.device, device, request.rid, { kind: 'history', ...page }) });
      this.emit('event', { type: 'history', device: request.fromDevice, messages: page.messages.length } satisfies VaultEvent);
    } catch (error) {
      const known = error instanceof CryptoError || error instanceof LookupRefused || error instanceof LookupUnavailable;
      const code = error instanceof CryptoError ? error.code : 'vault_error';
      send(socket, { t: 'response', rid, error: { code, message: known ? (error as Error).message : 'the vault could not answer' } });
    }
  }
}

function send(socket: WebSocket, frame: VaultClientFrame): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

function parseFrame(data: Buffer): VaultServerFrame | undefined {
  try {
    // The schema's guard: a frame zod would pass through unchanged (every well-formed one) is used as it came, without zod's copy.
    const parsed = fastSafeParse(VaultServerFrameSchema, JSON.parse(data.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

