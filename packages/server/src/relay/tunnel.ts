import crypto from 'node:crypto';
import net from 'node:net';
import {
  certifiedDevices,
  formatAddress,
  fromBase64url,
  HearthError,
  parseAddress,
  sameSite,
  TUNNEL_FRAME_MAX_BYTES,
  TunnelHelloSchema,
  tunnelProofBytes,
  type Address,
  type PeerKeys,
  type SiteName,
  type TunnelServerFrame,
  type VerifyFn,
} from '@hearth/protocol';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { guardedLookup } from '../net/ssrf.js';
import type { FriendLimits } from './limits.js';

const HELLO_TIMEOUT_MS = 10_000;
const DIAL_TIMEOUT_MS = 10_000;
/** The vault link inside pings every 30 s: this much silence both ways means the pipe is dead. */
const IDLE_MS = 120_000;
/** Tunnels one friend may hold open at a time (a vault reconnecting briefly overlaps its old link). */
const PER_FRIEND = 2;
/** Bytes waiting to be sent on either side before the other side is paused. */
const HIGH_WATER = 512 * 1024;

export interface TunnelDeps {
  site: SiteName;
  /** This site's origin, which a tunnel proof names. */
  origin: string;
  /** Where a site is served (scheme, host, port). */
  originOf: (site: SiteName) => string;
  allowPrivate: boolean;
  admit: (owner: string, friend: string, proven: () => Promise<void>) => Promise<FriendLimits>;
  spend: (owner: string, friend: string, limits: FriendLimits, bytes: number) => boolean;
  keysOf: (address: Address) => Promise<PeerKeys>;
  verify: VerifyFn;
  log: Logger;
}

/**
 * Vault tunnels at a relay (PROTOCOL.md §9, "The home vault through a relay"): a friend's home
 * vault that cannot reach its own site gets a byte pipe to that site, and to nowhere else. The
 * vault proves it is a certified device of the friend; the pipe carries the vault's own link
 * (TLS included on an https site), so this site passes bytes it cannot read. It counts them
 * against the friend's daily volume and never looks inside.
 */
export class RelayTunnels {
  private readonly open = new Map<string, number>();
  private readonly sockets = new Set<WebSocket>();

  constructor(private readonly deps: TunnelDeps) {}

  accept(socket: WebSocket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const nonce = crypto.randomBytes(32).toString('base64url');
    const timer = setTimeout(() => refuse(socket, new HearthError('invalid_request', 'send hello first', { status: 400 })), HELLO_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(timer));
    socket.once('message', (data: Buffer, isBinary: boolean) => {
      clearTimeout(timer);
      this.openTunnel(socket, nonce, isBinary ? undefined : data).catch((error: unknown) => refuse(socket, error));
    });
    send(socket, { t: 'challenge', nonce });
  }

  private async openTunnel(socket: WebSocket, nonce: string, data: Buffer | undefined): Promise<void> {
    let hello;
    try {
      hello = TunnelHelloSchema.parse(JSON.parse(data?.toString('utf8') ?? ''));
    } catch {
      throw new HearthError('invalid_request', 'expected a hello frame: {t:"hello", from, to, device, sig}', { status: 400 });
    }
    const from = parseAddress(hello.from);
    const to = parseAddress(hello.to);
    if (!sameSite(to, this.deps.site)) throw new HearthError('not_local', `${formatAddress(to)} is not a person on this site`, { status: 404 });
    if (sameSite(from, this.deps.site)) throw new HearthError('invalid_request', 'a vault of this site dials it directly, not through a tunnel', { status: 400 });
    const friend = formatAddress(from);
    const limits = await this.deps.admit(to.username, friend, async () => {
      const keys = await this.deps.keysOf(from);
      const device = certifiedDevices(keys, this.deps.verify).find((d) => d.id === hello.device);
      const proof = tunnelProofBytes(this.deps.origin, nonce, hello.device, hello.from, hello.to);
      if (!device || !this.deps.verify(proof, fromBase64url(hello.sig), device.signKey)) {
        throw new HearthError('bad_signature', `the hello is not signed by a certified device of ${friend}`, { status: 401 });
      }
    });
    if ((this.open.get(friend) ?? 0) >= PER_FRIEND) throw new HearthError('relay_rate_limited', `${friend} already has ${PER_FRIEND} tunnels open here`, { status: 429, retryable: true });
    if (socket.readyState !== socket.OPEN) return;
    const target = await this.dial(from);
    if (socket.readyState !== socket.OPEN) return void target.destroy();
    this.pipe(socket, target, { owner: to.username, friend, limits });
  }

  /** A TCP connection to the friend's own site, through the SSRF guard like every outbound fetch. */
  private dial(site: SiteName): Promise<net.Socket> {
    const url = new URL(this.deps.originOf(site));
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      const target = net.connect({ host, port, lookup: guardedLookup(this.deps.allowPrivate) as never, timeout: DIAL_TIMEOUT_MS });
      const fail = (reason: string) => {
        target.destroy();
        reject(new HearthError('relay_unreachable', `could not reach ${url.host} from here: ${reason}`, { status: 502, retryable: true }));
      };
      target.once('error', (error) => fail(error.message));
      target.once('timeout', () => fail('timed out'));
      target.once('connect', () => {
        target.removeAllListeners('error');
        target.removeAllListeners('timeout');
        target.setTimeout(0);
        resolve(target);
      });
    });
  }

  private pipe(socket: WebSocket, target: net.Socket, who: { owner: string; friend: string; limits: FriendLimits }): void {
    this.open.set(who.friend, (this.open.get(who.friend) ?? 0) + 1);
    let idle: NodeJS.Timeout | undefined;
    let closed = false;
    const close = (reason: string) => {
      if (closed) return;
      closed = true;
      clearTimeout(idle);
      const left = (this.open.get(who.friend) ?? 1) - 1;
      if (left > 0) this.open.set(who.friend, left);
      else this.open.delete(who.friend);
      target.destroy();
      if (socket.readyState === socket.OPEN) socket.close(1000, reason.slice(0, 120));
      this.deps.log.debug({ reason }, 'vault tunnel closed');
    };
    const heard = () => {
      clearTimeout(idle);
      idle = setTimeout(() => close('idle'), IDLE_MS);
    };
    const within = (bytes: number) => {
      if (this.deps.spend(who.owner, who.friend, who.limits, bytes)) return true;
      send(socket, { t: 'error', code: 'relay_rate_limited', message: `${who.friend} has used the day's volume set for it here` });
      close('daily volume spent');
      return false;
    };
    heard();
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return close('text frame inside an open tunnel');
      heard();
      if (!within(data.length)) return;
      if (!target.write(data)) socket.pause();
    });
    target.on('drain', () => socket.resume());
    target.on('data', (chunk: Buffer) => {
      heard();
      if (!within(chunk.length)) return;
      for (let at = 0; at < chunk.length; at += TUNNEL_FRAME_MAX_BYTES) socket.send(chunk.subarray(at, at + TUNNEL_FRAME_MAX_BYTES), { binary: true });
      if (socket.bufferedAmount > HIGH_WATER) {
        target.pause();
        const wait = setInterval(() => {
          if (closed || socket.bufferedAmount <= HIGH_WATER / 2) {
            clearInterval(wait);
            target.resume();
          }
        }, 20);
      }
    });
    target.on('error', (error) => close(`site: ${error.message}`));
    target.on('close', () => close('the site closed the connection'));
    socket.on('close', () => close('the vault closed the tunnel'));
    socket.on('error', () => close('tunnel socket error'));
    send(socket, { t: 'open' });
    this.deps.log.debug('vault tunnel opened');
  }

  close(): void {
    for (const socket of this.sockets) socket.close(1001, 'site is stopping');
    this.sockets.clear();
  }
}

function send(socket: WebSocket, frame: TunnelServerFrame): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame));
}

function refuse(socket: WebSocket, error: unknown): void {
  const e = error instanceof HearthError ? error : new HearthError('internal', 'the tunnel could not be opened', { status: 500, retryable: true });
  const wait = (error as { retryAfterMs?: number }).retryAfterMs;
  send(socket, { t: 'error', code: e.code, message: e.message.slice(0, 500), ...(typeof wait === 'number' ? { retryAfterMs: Math.ceil(wait) } : {}) });
  if (socket.readyState === socket.OPEN) socket.close(4000 + Math.min(e.status, 599), e.code);
}
