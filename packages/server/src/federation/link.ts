import { EventEmitter } from 'node:events';
import { fastSafeParse, formatSite, HearthError, LIMITS, LinkFrameSchema, parseLimitedJson, type LinkFrame, type RelayResult, type SiteName } from '@hearth/protocol';
import type WebSocket from 'ws';
import { corkableSocket } from '../net/cork.js';

export interface AckResult {
  ok: boolean;
  code?: string;
  message?: string;
  retryable?: boolean;
  /** The receiver's clock, on refusals that say the clocks disagree (clock_skew, expired). */
  time?: string;
  /** How long the receiver asks the sender to wait (a relay's per-friend limit). */
  retryAfterMs?: number;
  /** For a relay envelope: the destination's ack of each envelope it carried, by their ids. */
  results?: RelayResult[];
}

export class LinkClosedError extends HearthError {
  constructor(peer: SiteName) {
    super('link_closed', `the link to ${formatSite(peer)} closed before the envelope was acknowledged`, { status: 503, retryable: true });
  }
}

/** The largest frame: a relay envelope (the largest envelope there is) and the frame around it. */
/**
 * A ping this often; a link whose peer missed one is closed. A path a firewall starts dropping
 * is thus noticed within 15 to 30 s, and what was in flight goes again (through a relay if need be).
 */
const HEARTBEAT_MS = 15_000;

const MAX_FRAME_BYTES = LIMITS.relayEnvelopeBytes + 1024;
/**
 * Bytes of envelopes sent on one link and not yet acknowledged. A peer that reads slowly
 * (or not at all) holds at most this much of our memory; senders wait for room (room()).
 */
export const LINK_BUDGET_BYTES = 4 * 1024 * 1024;

/**
 * One authenticated WebSocket between two sites, after the handshake. Either side sends
 * envelopes over it and each is acknowledged by id; `send` resolves with that ack. Frames
 * are small JSON objects (see @hearth/protocol link.ts); anything else closes the link.
 */
export class Link extends EventEmitter {
  /** For an inbound link: which instance of the peer site dialled (when it runs several). */
  instance: string | undefined;
  private readonly pending = new Map<string, (ack: AckResult) => void>();
  private readonly pendingSize = new Map<string, number>();
  private pendingBytes = 0;
  private readonly waiting: Array<{ bytes: number; resolve: (open: boolean) => void }> = [];
  private closed = false;
  private corked = false;
  private alive = true;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    readonly peer: SiteName,
    readonly direction: 'in' | 'out',
    private readonly socket: WebSocket,
    private readonly onEnvelope: (env: unknown, link: Link) => Promise<AckResult>,
  ) {
    super();
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    socket.on('close', () => this.shutdown());
    socket.on('error', () => this.shutdown());
    socket.on('pong', () => {
      this.alive = true;
    });
    // A link that stops answering pings is dead even if TCP has not noticed yet.
    this.heartbeat = setInterval(() => {
      if (!this.alive) return this.close();
      this.alive = false;
      socket.ping();
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Unacknowledged bytes on this link (for tests and the status page). */
  get bytesInFlight(): number {
    return this.pendingBytes;
  }

  /**
   * Resolves true when `bytes` more fit the link's budget (always when nothing is in flight, so
   * one envelope larger than the budget still goes), false if the link closes first.
   */
  room(bytes: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.pendingBytes === 0 || this.pendingBytes + bytes <= LINK_BUDGET_BYTES) return Promise.resolve(true);
    return new Promise((resolve) => this.waiting.push({ bytes, resolve }));
  }

  /** Sends one envelope given as its JSON text (as stored in the outbox: no re-serialising). */
  send(envelopeJson: string, id: string): Promise<AckResult> {
    if (this.closed) return Promise.reject(new LinkClosedError(this.peer));
    // The same envelope already in flight here (a relay's synchronous try and its outbox copy):
    // it is not sent twice; both senders get its one ack.
    const inFlight = this.pending.get(id);
    if (inFlight) {
      return new Promise<AckResult>((resolve) =>
        this.pending.set(id, (ack) => {
          inFlight(ack);
          resolve(ack);
        }),
      );
    }
    return new Promise<AckResult>((resolve) => {
      this.pending.set(id, resolve);
      const bytes = Buffer.byteLength(envelopeJson);
      this.pendingSize.set(id, bytes);
      this.pendingBytes += bytes;
      this.coalesce();
      this.socket.send(`{"t":"env","env":${envelopeJson}}`, (error) => {
        const waiting = this.pending.get(id);
        if (error && waiting) {
          this.pending.delete(id);
          this.release(id);
          waiting({ ok: false, code: 'link_closed', message: new LinkClosedError(this.peer).message, retryable: true });
        }
      });
    });
  }

  private release(id: string): void {
    this.pendingBytes -= this.pendingSize.get(id) ?? 0;
    this.pendingSize.delete(id);
    // One waiter per ack: it sends its chunk before the next is let go, so the budget holds.
    if (this.waiting.length > 0 && (this.pendingBytes === 0 || this.pendingBytes + this.waiting[0]!.bytes <= LINK_BUDGET_BYTES)) {
      this.waiting.shift()!.resolve(true);
    }
  }

  /** Closes the link: with a close code and reason when given (the peer learns why), else at once. */
  close(code?: number, reason?: string): void {
    if (code !== undefined && !this.closed) {
      this.socket.close(code, reason);
      // A peer that never answers the close frame is cut off.
      setTimeout(() => this.socket.terminate(), 5000).unref();
    } else {
      this.socket.terminate();
    }
    this.shutdown();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary || data.length > MAX_FRAME_BYTES) return this.protocolError('frame_invalid', `frames are JSON text of at most ${MAX_FRAME_BYTES} bytes`);
    let frame: LinkFrame;
    try {
      // Strict JSON (no repeated keys, no lone surrogates); the frame adds one level around the envelope.
      const parsed = fastSafeParse(LinkFrameSchema, parseLimitedJson(data, { maxBytes: MAX_FRAME_BYTES, maxDepth: LIMITS.envelopeDepth + 1 }));
      if (!parsed.success) return this.protocolError('frame_invalid', 'unknown or malformed frame');
      frame = parsed.data;
    } catch (error) {
      const code = error instanceof HearthError ? error.code : 'frame_invalid';
      // A well-formed envelope frame that only fails strict JSON is refused like any bad envelope,
      // by its ack; the link stays up. Anything else is a broken peer.
      const id = code === 'invalid_json' ? envelopeIdOf(data) : null;
      if (id) return this.reply({ t: 'ack', id, ok: false, code, message: (error as Error).message, retryable: false });
      return this.protocolError(code === 'too_deep' ? code : 'frame_invalid', (error as Error).message);
    }
    if (frame.t === 'ack') {
      const resolve = this.pending.get(frame.id);
      if (resolve) {
        this.pending.delete(frame.id);
        this.release(frame.id);
        resolve({ ok: frame.ok, code: frame.code, message: frame.message, retryable: frame.retryable, ...(frame.time ? { time: frame.time } : {}), ...(frame.retryAfterMs !== undefined ? { retryAfterMs: frame.retryAfterMs } : {}), ...(frame.results ? { results: frame.results } : {}) });
      }
    } else if (frame.t === 'env') {
      const id = typeof (frame.env as { id?: unknown })?.id === 'string' ? String((frame.env as { id: string }).id).slice(0, 64) : '';
      // Only a relay envelope may be larger than an envelope (it carries one, sealed).
      const type = (frame.env as { type?: unknown })?.type;
      if (data.length > LIMITS.envelopeBytes + 32 && type !== 'relay') {
        return this.reply({ t: 'ack', id, ok: false, code: 'too_large', message: `a ${String(type).slice(0, 64)} envelope is at most ${LIMITS.envelopeBytes} bytes`, retryable: false });
      }
      this.onEnvelope(frame.env, this).then(
        (ack) => this.reply({ t: 'ack', id, ...ack }),
        () => this.reply({ t: 'ack', id, ok: false, code: 'internal', message: 'internal error', retryable: true }),
      );
    } else if (frame.t === 'error') {
      this.close();
    }
  }

  private reply(frame: LinkFrame): void {
    if (this.closed) return;
    this.coalesce();
    this.socket.send(JSON.stringify(frame));
  }

  /**
   * Frames sent in one burst (a chunk of the outbox, the acks of one commit) leave in one write:
   * the TCP socket under the WebSocket is corked at the burst's first frame and uncorked once the
   * code running now, and the promise callbacks it set off, are done (process.nextTick runs after
   * them), so nothing waits for a timer. Each frame was otherwise a system call of its own: 23 µs
   * of a DM's cost on the sending site. Without a socket to cork, frames go one by one as before.
   */
  private coalesce(): void {
    if (this.corked) return;
    const tcp = corkableSocket(this.socket);
    if (!tcp) return;
    tcp.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      tcp.uncork();
    });
  }

  private protocolError(code: string, message: string): void {
    this.reply({ t: 'error', code, message });
    this.close();
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    const waiting = [...this.pending.values()];
    this.pending.clear();
    this.pendingSize.clear();
    this.pendingBytes = 0;
    for (const waiter of this.waiting.splice(0)) waiter.resolve(false);
    for (const resolve of waiting) resolve({ ok: false, code: 'link_closed', message: 'link closed before ack', retryable: true });
    this.emit('close');
  }
}

/** The id of an envelope frame that JSON.parse reads but strict parsing refused, so it can be acked. */
function envelopeIdOf(data: Buffer): string | null {
  try {
    const frame = JSON.parse(data.toString('utf8')) as { t?: unknown; env?: { id?: unknown } };
    return frame.t === 'env' && typeof frame.env?.id === 'string' ? frame.env.id.slice(0, 64) : null;
  } catch {
    return null;
  }
}
