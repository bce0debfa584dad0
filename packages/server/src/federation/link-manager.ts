import crypto from 'node:crypto';
import {
  formatSite,
  fromBase64url,
  HearthError,
  LinkFrameSchema,
  linkProofBytes,
  nextRetryDelay,
  PROTOCOL_VERSION,
  sameSite,
  siteOrigin,
  toBase64url,
  type LinkFrame,
  type Signer,
  type SiteName,
  type VerifyFn,
} from '@hearth/protocol';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { guardedLookup } from '../net/ssrf.js';
import type { Directory } from './directory.js';
import { Link, type AckResult } from './link.js';

const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Close codes (PROTOCOL.md §5): 4000 handshake refused (after an error frame), 4001 replaced by a newer link. */
export const LINK_REPLACED = 4001;

export interface LinkManagerDeps {
  site: SiteName;
  serverSigner: Signer;
  directory: Directory;
  verify: VerifyFn;
  allowInsecure: boolean;
  log: Logger;
  onEnvelope: (env: unknown, link: Link) => Promise<AckResult>;
  /** Called when a link to a site comes up, so queued work for it can go at once. */
  onLinkUp: (peer: SiteName) => void;
  /** This instance's id, said in the hello, when the site runs several instances (docs/SCALING.md). */
  instance?: string;
}

/** Links one peer site may hold into this one, one per instance of it: enough for a site run as several instances, bounded for one that claims many. */
const MAX_INBOUND_PER_PEER = 8;

/**
 * Keeps at most a few WebSocket links per peer site, accepted or dialled, and redials with
 * backoff the sites it has been asked to stay linked to.
 */
export class LinkManager {
  private readonly links = new Map<string, Set<Link>>();
  private readonly dialing = new Map<string, Promise<Link | null>>();
  private readonly wanted = new Map<string, { site: SiteName; failures: number; timer?: NodeJS.Timeout; lastFailure?: number }>();
  /** Sites whose last dial failed in the network (nothing answered, timed out, cut): the relay path's cue. */
  private readonly unreachableSites = new Set<string>();
  private closing = false;

  constructor(private readonly deps: LinkManagerDeps) {}

  get(site: SiteName): Link | undefined {
    let best: Link | undefined;
    for (const link of this.links.get(formatSite(site)) ?? []) {
      if (link.isOpen && (!best || link.inFlight < best.inFlight)) best = link;
    }
    return best;
  }

  /** The open links, for the owner's status page. */
  list(): Array<{ peer: string; direction: 'in' | 'out'; inFlight: number }> {
    const out: Array<{ peer: string; direction: 'in' | 'out'; inFlight: number }> = [];
    for (const [peer, set] of this.links) for (const link of set) if (link.isOpen) out.push({ peer, direction: link.direction, inFlight: link.inFlight });
    return out.sort((a, b) => a.peer.localeCompare(b.peer));
  }

  /** Keep a link to this site up, redialling with backoff when it drops. */
  want(target: SiteName): void {
    const site = siteOnly(target);
    if (sameSite(site, this.deps.site) || this.closing) return;
    const key = formatSite(site);
    if (!this.wanted.has(key)) {
      this.wanted.set(key, { site, failures: 0 });
      void this.ensure(site);
    }
  }

  /** A link to this site: an open one, or a fresh dial (null when the site cannot be reached now). */
  async ensure(target: SiteName): Promise<Link | null> {
    const site = siteOnly(target);
    const open = this.get(site);
    if (open) return open;
    const key = formatSite(site);
    const state = this.wanted.get(key);
    // While a wanted site is in backoff, don't hammer it: the redial timer will try.
    if (state?.timer) return null;
    let pending = this.dialing.get(key);
    if (!pending) {
      pending = this.dial(site)
        .then((link) => {
          if (state) state.failures = 0;
          return link;
        })
        .catch((error: unknown) => {
          this.deps.log.debug({ peer: key, err: (error as Error).message }, 'link dial failed');
          if (isNetworkFailure(error)) this.unreachableSites.add(key);
          this.scheduleRedial(site);
          return null;
        })
        .finally(() => this.dialing.delete(key));
      this.dialing.set(key, pending);
    }
    return pending;
  }

  private scheduleRedial(site: SiteName): void {
    const key = formatSite(site);
    const state = this.wanted.get(key);
    if (!state || state.timer || this.closing) return;
    state.failures++;
    const delay = Math.min(nextRetryDelay(state.failures, 0, Math.random) ?? 60_000, 5 * 60_000);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void this.ensure(site);
    }, delay);
    state.timer.unref();
  }

  /**
   * Whether the last dial to this site failed in the network (connection refused, timed out,
   * unreachable, cut), with no link up since: its direct path is down or blocked.
   */
  unreachable(site: SiteName): boolean {
    return this.unreachableSites.has(formatSite(siteOnly(site))) && !this.get(site);
  }

  /** The server side of the handshake, on a socket accepted at /federation. */
  accept(socket: WebSocket): void {
    let hello: Extract<LinkFrame, { t: 'hello' }> | undefined;
    let serverNonce = '';
    const timer = setTimeout(() => fail('handshake_timeout', 'handshake took too long'), HANDSHAKE_TIMEOUT_MS);
    const fail = (code: string, message: string) => {
      clearTimeout(timer);
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ t: 'error', code, message }));
      socket.close(4000, code);
    };
    const onMessage = async (data: WebSocket.RawData) => {
      const frame = parseFrame(data);
      if (!frame) return fail('frame_invalid', 'malformed handshake frame');
      if (frame.t === 'hello' && !hello) {
        if (frame.v !== PROTOCOL_VERSION) return fail('unsupported_version', `this site speaks link version ${PROTOCOL_VERSION}`);
        if (!sameSite(frame.server, this.deps.site)) return fail('wrong_site', `this is ${formatSite(this.deps.site)}`);
        if (sameSite(frame.client, this.deps.site)) return fail('wrong_site', 'a site does not link to itself');
        hello = frame;
        serverNonce = toBase64url(crypto.randomBytes(24));
        const sig = toBase64url(this.deps.serverSigner.sign(linkProofBytes('server', frame.client, frame.server, frame.nonce)));
        socket.send(JSON.stringify({ t: 'challenge', nonce: serverNonce, sig }));
      } else if (frame.t === 'auth' && hello) {
        socket.off('message', onMessage);
        const client = hello.client;
        try {
          const key = await this.deps.directory.serverKeyOf(client);
          const proof = linkProofBytes('client', client, this.deps.site, serverNonce);
          if (!this.deps.verify(proof, fromBase64url(frame.sig), key)) {
            const fresh = await this.deps.directory.serverKeyOf(client, { refresh: true });
            if (!this.deps.verify(proof, fromBase64url(frame.sig), fresh)) return fail('bad_signature', 'handshake signature does not match the server key');
          }
        } catch (error) {
          return fail('peer_unverifiable', `could not verify ${formatSite(client)}: ${(error as Error).message}`);
        }
        clearTimeout(timer);
        socket.send(JSON.stringify({ t: 'ready' }));
        const link = new Link(client, 'in', socket, this.deps.onEnvelope);
        link.instance = hello.instance;
        this.register(link);
      } else {
        fail('frame_unexpected', `unexpected ${frame.t} frame during handshake`);
      }
    };
    socket.on('message', onMessage);
    socket.on('close', () => clearTimeout(timer));
    socket.on('error', () => clearTimeout(timer));
  }

  /** The client side: dial, prove ourselves, check the server's proof. */
  private async dial(site: SiteName): Promise<Link> {
    if (this.closing) throw new HearthError('closing', 'shutting down');
    const origin = siteOrigin(site, { allowInsecureLoopback: this.deps.allowInsecure });
    const url = origin.replace(/^http/, 'ws') + '/federation';
    const serverKey = await this.deps.directory.serverKeyOf(site);
    const socket = new WebSocket(url, {
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      maxPayload: 128 * 1024,
      lookup: guardedLookup(this.deps.allowInsecure) as never,
      followRedirects: false,
    });
    const clientNonce = toBase64url(crypto.randomBytes(24));
    return new Promise<Link>((resolve, reject) => {
      let challenged = false;
      const timer = setTimeout(() => abort(new HearthError('handshake_timeout', `${formatSite(site)} did not finish the handshake`, { retryable: true })), HANDSHAKE_TIMEOUT_MS);
      const abort = (error: Error) => {
        clearTimeout(timer);
        socket.terminate();
        reject(error);
      };
      socket.on('error', (error) => abort(error));
      socket.on('close', () => abort(new HearthError('link_closed', `${formatSite(site)} closed the link during the handshake`, { retryable: true })));
      socket.on('open', () => {
        socket.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, client: this.deps.site, server: site, nonce: clientNonce, ...(this.deps.instance ? { instance: this.deps.instance } : {}) }));
      });
      const onMessage = (data: WebSocket.RawData) => {
        const frame = parseFrame(data);
        if (!frame) return abort(new HearthError('frame_invalid', 'malformed handshake frame'));
        if (frame.t === 'challenge' && !challenged) {
          challenged = true;
          const proof = linkProofBytes('server', this.deps.site, site, clientNonce);
          if (!this.deps.verify(proof, fromBase64url(frame.sig), serverKey)) {
            return abort(new HearthError('bad_signature', `${formatSite(site)} could not prove its server key`));
          }
          const sig = toBase64url(this.deps.serverSigner.sign(linkProofBytes('client', this.deps.site, site, frame.nonce)));
          socket.send(JSON.stringify({ t: 'auth', sig }));
        } else if (frame.t === 'ready' && challenged) {
          clearTimeout(timer);
          socket.off('message', onMessage);
          socket.removeAllListeners('close');
          socket.removeAllListeners('error');
          const link = new Link(site, 'out', socket, this.deps.onEnvelope);
          this.register(link);
          resolve(link);
        } else if (frame.t === 'error') {
          abort(new HearthError(frame.code, `${formatSite(site)} refused the link: ${frame.message}`, { retryable: true }));
        } else {
          abort(new HearthError('frame_unexpected', `unexpected ${frame.t} frame during handshake`));
        }
      };
      socket.on('message', onMessage);
    });
  }

  /**
   * At most one link each way per peer (PROTOCOL.md §5 "Link lifecycle"): two sites that dial each
   * other at once keep both, and a newer link in the same direction replaces the older one, whose
   * unacknowledged envelopes the sender then retries. A peer run as several instances holds one
   * inbound link per instance (named in its hello), at most MAX_INBOUND_PER_PEER.
   */
  private register(link: Link): void {
    const key = formatSite(link.peer);
    let set = this.links.get(key);
    if (!set) this.links.set(key, (set = new Set()));
    const sameWay = [...set].filter((old) => old.direction === link.direction);
    for (const old of sameWay) {
      if (old.instance === link.instance) {
        this.deps.log.info({ peer: key, direction: link.direction }, 'link replaced by a newer one');
        old.close(LINK_REPLACED, 'replaced by a newer link');
      }
    }
    const others = sameWay.filter((old) => old.instance !== link.instance);
    for (const old of others.slice(0, Math.max(0, others.length - (MAX_INBOUND_PER_PEER - 1)))) old.close(LINK_REPLACED, 'replaced by a newer link');
    set.add(link);
    this.unreachableSites.delete(key);
    this.deps.log.info({ peer: key, direction: link.direction }, 'link up');
    link.on('close', () => {
      set!.delete(link);
      this.deps.log.info({ peer: key, direction: link.direction }, 'link down');
      if (this.wanted.has(key) && !this.get(link.peer)) this.scheduleRedial(link.peer);
    });
    const state = this.wanted.get(key);
    if (state) {
      state.failures = 0;
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
    }
    this.deps.onLinkUp(link.peer);
  }

  close(): void {
    this.closing = true;
    for (const state of this.wanted.values()) if (state.timer) clearTimeout(state.timer);
    for (const set of this.links.values()) for (const link of set) link.close();
    this.links.clear();
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN', 'handshake_timeout', 'link_closed', 'fetch_failed']);

/** A failure of the network itself (as opposed to an answer: a refusal, a bad key). */
export function isNetworkFailure(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string }; message?: string };
  if (NETWORK_CODES.has(e?.code ?? '') || NETWORK_CODES.has(e?.cause?.code ?? '')) return true;
  // ws reports a handshake that timed out as a plain Error.
  return /Opening handshake has timed out|socket hang up/.test(e?.message ?? '');
}

/** Callers may pass an address (it has a username too); links and handshakes name sites only. */
function siteOnly(site: SiteName): SiteName {
  return { host: site.host, port: site.port };
}

function parseFrame(data: WebSocket.RawData): LinkFrame | null {
  try {
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
    if (text.length > 4096) return null;
    const parsed = LinkFrameSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
