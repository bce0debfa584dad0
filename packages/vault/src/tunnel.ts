import { Duplex } from 'node:stream';
import tls from 'node:tls';
import {
  RELAY_TUNNEL_PATH,
  TUNNEL_FRAME_MAX_BYTES,
  TunnelServerFrameSchema,
  tunnelProofBytes,
  type DeviceSecrets,
  type TunnelHello,
} from '@hearth/protocol';
import { nodeSigner } from '@hearth/protocol/node';
import WebSocket from 'ws';

/** A friend's relay the vault may go through: the relaying person's address and their site's origin. */
export interface VaultRelay {
  address: string;
  origin: string;
}

const OPEN_TIMEOUT_MS = 20_000;

/** A refusal or failure of one relay, said the way the vault's log shows it. */
export class TunnelError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * Opens a byte pipe to the vault's own site through a friend's relay (PROTOCOL.md §9): answers the
 * relay's challenge with a device signature and resolves, once the relay has dialled the site,
 * with a socket-like stream for the vault link to run over (TLS on top for an https site).
 */
export function openTunnel(relay: VaultRelay, me: { address: string; device: DeviceSecrets; siteOrigin: string }, onSocket: (socket: WebSocket) => void): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${relay.origin.replace(/^http/, 'ws')}${RELAY_TUNNEL_PATH}`, { maxPayload: TUNNEL_FRAME_MAX_BYTES * 2, handshakeTimeout: 15_000 });
    onSocket(socket);
    let settled = false;
    let failure = '';
    const fail = (error: TunnelError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.terminate();
      reject(error);
    };
    const timer = setTimeout(() => fail(new TunnelError(`${relay.address} did not open the tunnel in time`, 'timeout')), OPEN_TIMEOUT_MS);
    socket.on('error', (error) => (failure = error.message));
    socket.on('close', (code, reason) => fail(new TunnelError(failure || reason.toString() || `closed (${code})`, 'closed')));
    const onMessage = (data: Buffer, isBinary: boolean) => {
      const parsed = isBinary ? undefined : TunnelServerFrameSchema.safeParse(safeJson(data));
      if (!parsed?.success) return fail(new TunnelError(`${relay.address} sent something that is not a tunnel frame`, 'bad_frame'));
      const frame = parsed.data;
      if (frame.t === 'challenge') {
        const proof = tunnelProofBytes(relay.origin, frame.nonce, me.device.id, me.address, relay.address);
        const hello: TunnelHello = { t: 'hello', from: me.address, to: relay.address, device: me.device.id, sig: Buffer.from(nodeSigner(me.device.sign).sign(proof)).toString('base64url') };
        return socket.send(JSON.stringify(hello));
      }
      if (frame.t === 'error') return fail(new TunnelError(`${relay.address} refused: ${frame.message}`, frame.code, frame.retryAfterMs));
      // open: from here on the socket carries the pipe's bytes.
      settled = true;
      clearTimeout(timer);
      socket.off('message', onMessage);
      const stream = new TunnelStream(socket);
      const site = new URL(me.siteOrigin);
      resolve(site.protocol === 'https:' ? tls.connect({ socket: stream, servername: site.hostname, ALPNProtocols: ['http/1.1'] }) : stream);
    };
    socket.on('message', onMessage);
  });
}

function safeJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The tunnel's WebSocket as a stream of bytes, with the few socket methods an HTTP client calls
 * (timeouts and Nagle belong to the relay's TCP connection, not to this pipe).
 */
class TunnelStream extends Duplex {
  constructor(private readonly socket: WebSocket) {
    super();
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const frame = TunnelServerFrameSchema.safeParse(safeJson(data));
        return void this.destroy(new TunnelError(frame.success && frame.data.t === 'error' ? frame.data.message : 'a text frame inside the tunnel', frame.success && frame.data.t === 'error' ? frame.data.code : 'bad_frame'));
      }
      if (!this.push(data)) socket.pause();
    });
    socket.on('close', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.socket.readyState !== WebSocket.OPEN) return done(new Error('the tunnel is closed'));
    if (chunk.length === 0) return done();
    // Frames stay under the relay's limit; the last one's callback paces the writer.
    for (let at = 0; at < chunk.length; at += TUNNEL_FRAME_MAX_BYTES) {
      const last = at + TUNNEL_FRAME_MAX_BYTES >= chunk.length;
      this.socket.send(chunk.subarray(at, at + TUNNEL_FRAME_MAX_BYTES), { binary: true }, last ? (error) => done(error ?? null) : undefined);
    }
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.close(1000, 'done');
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.socket.terminate();
    done(error);
  }

  setTimeout(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}
