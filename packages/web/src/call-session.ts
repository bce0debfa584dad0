/**
 * One call between this browser and another person's browser: WebRTC media and a data channel,
 * with every signal sealed end to end and routed through both people's sites (call.signal).
 * ICE tries direct paths first and falls back to a TURN relay on either person's own site.
 * Loaded only when a call starts or rings.
 */
import { certifiedDevices, certifyDevice, CryptoError, MAX_ICE_PER_SIGNAL, openCallSignal, verifyDeviceCertificate, peerKeys, sealCallSignal, type CallSignal, type DeviceRecord, type DmApi, type MyDevice, type PinStore, type UnsignedCallSignal } from '@hearth/protocol/dm';
import { LIMITS } from '@hearth/protocol/limits';
import { api, ApiError, session } from './api';
import { preferences } from './preferences';

export type CallState = 'calling' | 'ringing' | 'connecting' | 'connected' | 'ended';

export interface CallStats {
  /** 'direct', or the host whose relay carries the call. */
  path: string | null;
  audioBytes: number;
  videoFrames: number;
}

export interface ChatItem {
  from: 'me' | 'them';
  text?: string;
  /** seconds: how long the transfer took, first byte to last (shown as a speed). */
  file?: { name: string; size: number; received: number; url?: string; intact?: boolean; seconds?: number };
}

const NO_ANSWER_MS = 45_000;
const RING_EVERY_MS = 4_000;
const LOST_AFTER_MS = 15_000;
const CHUNK = 16 * 1024;
/**
 * ICE candidates go out in batches: the ones found within this many milliseconds of each other
 * share one signal (a browser finds several at once, and each signal is an envelope through both
 * sites), and gathering's end sends what is left at once.
 */
const ICE_BATCH_MS = 15;
export const MAX_FILE_BYTES = 100 * 1024 * 1024;

/**
 * My site's TURN relay, or none (then only direct paths are tried; no third-party server is ever
 * used). Fetched ahead while a page is open (see `warmUp` in call.tsx) and kept for half the
 * credentials' lifetime, so a call does not wait for it.
 */
export function iceServers(): Promise<RTCIceServer[]> {
  const user = session.username ?? '';
  if (turnCache && turnCache.user === user && Date.now() < turnCache.until) return turnCache.servers;
  const entry = { user, until: Infinity, servers: fetchIceServers() };
  entry.servers.then(
    (servers) => (entry.until = Date.now() + (servers.length ? turnLifetimeMs / 2 : 60_000)),
    () => turnCache === entry && (turnCache = undefined),
  );
  turnCache = entry;
  return entry.servers;
}

let turnCache: { user: string; until: number; servers: Promise<RTCIceServer[]> } | undefined;
let turnLifetimeMs = 60 * 60_000;

async function fetchIceServers(): Promise<RTCIceServer[]> {
  try {
    const turn = await api<{ urls: string[]; username: string; credential: string; ttl?: number }>('GET', '/api/turn-credentials');
    if (turn.ttl) turnLifetimeMs = turn.ttl * 1000;
    return [{ urls: turn.urls, username: turn.username, credential: turn.credential }];
  } catch (error) {
    if (error instanceof ApiError && error.code === 'turn_not_configured') return [];
    throw error;
  }
}

export function newCallId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export class CallSession {
  state: CallState;
  message = '';
  muted = false;
  cameraOff = false;
  readonly chat: ChatItem[] = [];
  stats: CallStats = { path: null, audioBytes: 0, videoFrames: 0 };
  /** From "call" (or "answer") to the first media from the other side, in milliseconds. */
  setupMs: number | undefined;
  localStream: MediaStream | undefined;
  readonly remoteStream = new MediaStream();
  private pc: RTCPeerConnection | undefined;
  private channel: RTCDataChannel | undefined;
  private peerDevices: DeviceRecord[] = [];
  /** The other side's devices this call knows (checked): its next signals are checked with them. */
  get knownDevices(): readonly DeviceRecord[] {
    return this.peerDevices;
  }
  private readonly pendingIce: RTCIceCandidateInit[] = [];
  /** My candidates not sent yet: they wait for the batch, and for my offer or answer to have gone first. */
  private readonly outgoingIce: Array<{ candidate: string; sdpMid: string | null; sdpMLineIndex: number | null }> = [];
  private iceBatch: ReturnType<typeof setTimeout> | undefined;
  private descriptionSent = false;
  /** "address:port" of the relay candidates the other side sent (see sample()). */
  private readonly remoteRelays = new Set<string>();
  /** Whether each side sends through its own relay: each knows its own for sure, and tells the other. */
  private myRelay: boolean | undefined;
  private theirRelay = false;
  private offerSdp: string | undefined;
  private timers: Array<ReturnType<typeof setTimeout> | ReturnType<typeof setInterval>> = [];
  private lostSince: number | undefined;
  private incoming: { id: string; name: string; size: number; sha256: string; parts: ArrayBuffer[]; received: number; item: ChatItem; startedAt: number } | undefined;

  constructor(
    /** `devicesOf` (the controller's cache) saves looking the peer up again for each call. */
    private readonly dm: { api: DmApi; pins: PinStore; me: MyDevice; devicesOf?: (address: string) => Promise<DeviceRecord[]> },
    readonly peer: string,
    readonly callId: string,
    readonly direction: 'out' | 'in',
    readonly video: boolean,
    private readonly onChange: () => void,
    /** When the call was started (performance.now()): the caller's click; "Answer" for the callee (accept()). */
    private startedAt = performance.now(),
  ) {
    this.state = direction === 'out' ? 'calling' : 'ringing';
  }

  /** Caller: media, offer, ring. */
  async start(): Promise<void> {
    try {
      await this.loadPeer();
      // Camera and microphone start while the ring goes out, when the browser already allows them;
      // otherwise they come first, so the other side never rings while a permission prompt waits.
      const media = this.openMedia();
      media.catch(() => undefined); // awaited below
      if (!(await mediaAllowed(this.video))) await media;
      const pc = await this.createPeerConnection();
      // One sending-and-receiving transceiver per kind: the offer needs no track, and the tracks join
      // them when they are ready (replaceTrack, no renegotiation).
      pc.addTransceiver('audio', { direction: 'sendrecv' });
      if (this.video) pc.addTransceiver('video', { direction: 'sendrecv' });
      this.channel = pc.createDataChannel('chat', { ordered: true });
      this.wireChannel(this.channel);
      const offer = await this.pc!.createOffer();
      await this.pc!.setLocalDescription(offer);
      await this.send({ kind: 'offer', sdp: offer.sdp, video: this.video });
      this.descriptionSent = true;
      this.sendIce();
      // Ring again every few seconds: a page of theirs that opens meanwhile rings too, and its
      // offer by then holds every candidate found so far.
      const again = setInterval(
        () => this.state === 'calling' && void this.send({ kind: 'offer', sdp: this.pc?.localDescription?.sdp ?? offer.sdp, video: this.video }).catch(() => undefined),
        RING_EVERY_MS,
      );
      this.timers.push(again);
      this.timers.push(setTimeout(() => this.state === 'calling' && this.end('No answer.', true), NO_ANSWER_MS));
      await attachMedia(pc, await media);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Callee: the ring arrived with the caller's offer. */
  async ring(offer: CallSignal, caller?: DeviceRecord): Promise<void> {
    this.offerSdp = offer.sdp;
    this.timers.push(setTimeout(() => this.state === 'ringing' && this.end('Missed call.'), NO_ANSWER_MS));
    // While it rings, the connection is made and given the offer and the caller's candidates, and
    // my answer is written (not applied), so "Answer" only applies and sends it and adds my camera
    // and microphone. Nothing of mine is gathered or sent (no candidate, no address) until I
    // answer: gathering starts when the answer is applied. Whether the browser gives the camera
    // without asking is looked up now too: it is a round trip to the browser's own process.
    this.mediaAllowedAtRing = mediaAllowed(this.video);
    if (offer.sdp) {
      const answering = this.connectionForOffer(offer.sdp);
      this.answering = answering;
      answering.catch(() => this.answering === answering && (this.answering = undefined)); // tried again at "Answer"
    }
    // The device that rings is the one to answer; its certificate was checked when the ring opened.
    this.peerLoaded = caller ? Promise.resolve(void (this.peerDevices = [caller])) : this.loadPeer();
    await this.peerLoaded.catch((error: unknown) => this.fail(error));
  }

  /** The callee's lookup of the caller's devices, which "Answer" may have to wait for. */
  private peerLoaded: Promise<void> | undefined;

  /** The callee's connection, with the caller's offer and candidates in it, and my answer written. */
  private answering: Promise<{ pc: RTCPeerConnection; answer: RTCSessionDescriptionInit }> | undefined;
  private mediaAllowedAtRing: Promise<boolean> | undefined;

  private async connectionForOffer(sdp: string): Promise<{ pc: RTCPeerConnection; answer: RTCSessionDescriptionInit }> {
    const pc = await this.createPeerConnection();
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await this.flushIce();
    // The offer made a transceiver for each of the caller's kinds: I send on those too.
    for (const transceiver of pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind;
      if (kind === 'audio' || (kind === 'video' && this.video)) transceiver.direction = 'sendrecv';
    }
    return { pc, answer: await pc.createAnswer() };
  }

  async accept(): Promise<void> {
    if (this.state !== 'ringing' || !this.offerSdp) return;
    this.startedAt = performance.now();
    this.state = 'connecting';
    this.onChange();
    try {
      // As for the caller: the answer goes while the camera starts, when the browser allows it
      // already; otherwise the permission comes first, and a refusal does not answer the call.
      const media = this.openMedia();
      media.catch(() => undefined); // awaited below
      if (!(await (this.mediaAllowedAtRing ?? mediaAllowed(this.video)))) await media;
      const [{ pc, answer }] = await Promise.all([(this.answering ??= this.connectionForOffer(this.offerSdp)), this.peerLoaded]);
      await pc.setLocalDescription(answer);
      await this.send({ kind: 'answer', sdp: answer.sdp });
      this.descriptionSent = true;
      this.sendIce();
      await attachMedia(pc, await media);
    } catch (error) {
      this.fail(error);
    }
  }

  /** This browser is on another call: tell the caller so, and end here. */
  async busy(): Promise<void> {
    await this.loadPeer();
    await this.send({ kind: 'busy' });
    this.state = 'ended';
  }

  decline(): void {
    void this.send({ kind: 'decline' }).catch(() => undefined);
    this.end('Declined.');
  }

  hangUp(): void {
    void this.send({ kind: 'hangup' }).catch(() => undefined);
    this.end('Call ended.');
  }

  /** A signal from the other side (already opened and verified). */
  async onSignal(signal: CallSignal): Promise<void> {
    if (this.state === 'ended') return;
    switch (signal.kind) {
      case 'answer':
        if (this.direction !== 'out' || !signal.sdp || this.pc?.signalingState !== 'have-local-offer') return;
        this.state = 'connecting';
        this.message = '';
        await this.pc.setRemoteDescription({ type: 'answer', sdp: signal.sdp });
        await this.flushIce();
        // Their other devices are still ringing: tell them it was answered.
        void this.send({ kind: 'accept' }).catch(() => undefined);
        break;
      case 'accept':
        // The caller says one of my devices answered; if it was not this one, stop ringing here.
        if (this.state === 'ringing') return this.end('Answered on another device.');
        return;
      case 'ice':
        // A batch (`candidates`), or one `candidate` as sites sent before batches.
        for (const candidate of [...(signal.candidates ?? []), ...(signal.candidate ? [signal.candidate] : [])]) {
          const relay = / (\S+) (\d+) typ relay/.exec(candidate.candidate);
          if (relay) this.remoteRelays.add(`${relay[1]}:${relay[2]}`);
          this.pendingIce.push(candidate);
        }
        if (this.pc?.remoteDescription) await this.flushIce();
        break;
      case 'decline':
        return this.end(`${this.peer} declined the call.`);
      case 'busy':
        return this.end(`${this.peer} is on another call.`);
      case 'hangup':
        return this.end(this.state === 'ringing' ? 'Missed call.' : `${this.peer} hung up.`);
      default:
        return;
    }
    this.onChange();
  }

  toggleMute(): void {
    this.muted = !this.muted;
    for (const track of this.localStream?.getAudioTracks() ?? []) track.enabled = !this.muted;
    this.onChange();
  }

  toggleCamera(): void {
    this.cameraOff = !this.cameraOff;
    for (const track of this.localStream?.getVideoTracks() ?? []) track.enabled = !this.cameraOff;
    this.onChange();
  }

  sendText(text: string): void {
    if (this.channel?.readyState !== 'open') return;
    this.channel.send(JSON.stringify({ t: 'text', text }));
    this.chat.push({ from: 'me', text });
    this.onChange();
  }

  /** Sends a file over the data channel in 16 KiB chunks, waiting whenever the buffer fills. */
  async sendFile(file: File): Promise<void> {
    const channel = this.channel;
    if (channel?.readyState !== 'open') return;
    if (file.size > MAX_FILE_BYTES) throw new Error(`files up to ${MAX_FILE_BYTES / 1024 / 1024} MB can be sent during a call`);
    const bytes = await file.arrayBuffer();
    const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes));
    const item: ChatItem = { from: 'me', file: { name: file.name, size: file.size, received: 0 } };
    this.chat.push(item);
    const id = newCallId();
    channel.send(JSON.stringify({ t: 'file', id, name: file.name, size: file.size, sha256 }));
    channel.bufferedAmountLowThreshold = 1024 * 1024;
    for (let offset = 0; offset < bytes.byteLength; offset += CHUNK) {
      if (channel.bufferedAmount > 4 * 1024 * 1024) {
        await new Promise<void>((resolve) => channel.addEventListener('bufferedamountlow', () => resolve(), { once: true }));
      }
      if (channel.readyState !== 'open') return;
      channel.send(bytes.slice(offset, offset + CHUNK));
      item.file!.received = Math.min(bytes.byteLength, offset + CHUNK);
      this.progressChanged();
    }
    item.file!.intact = true;
    this.onChange();
  }

  private async loadPeer(): Promise<void> {
    this.peerDevices = this.dm.devicesOf ? await this.dm.devicesOf(this.peer) : certifiedDevices(await peerKeys(this.dm.api, this.dm.pins, this.dm.me, this.peer));
    if (this.peerDevices.length === 0) throw new Error(`${this.peer} has no device that can take calls`);
  }

  private async openMedia(): Promise<MediaStream> {
    if (!navigator.mediaDevices) throw new Error('Calls need this page over https: browsers give cameras and microphones only to secure pages.');
    try {
      this.localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: this.video });
    } catch (error) {
      const name = (error as DOMException).name;
      if (name === 'NotAllowedError') throw new Error('Your browser did not allow the microphone or camera: allow them for this site and call again.');
      if (name === 'NotFoundError') throw new Error(`No ${this.video ? 'camera or microphone' : 'microphone'} was found.`);
      throw error;
    }
    // The call may have ended while the browser asked for the camera.
    if (this.state === 'ended') for (const track of this.localStream.getTracks()) track.stop();
    return this.localStream;
  }

  private async createPeerConnection(): Promise<RTCPeerConnection> {
    const servers = await iceServers();
    if (this.state === 'ended') throw new Error(this.message || 'The call has ended.');
    const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: preferences.alwaysRelay ? 'relay' : 'all' });
    this.pc = pc;
    pc.ontrack = (event) => {
      this.remoteStream.addTrack(event.track);
      // A remote track unmutes when its first media arrives: the call is really up.
      event.track.addEventListener('unmute', () => {
        this.setupMs ??= performance.now() - this.startedAt;
        this.onChange();
      });
      this.onChange();
    };
    pc.ondatachannel = (event) => {
      this.channel = event.channel;
      this.wireChannel(event.channel);
    };
    pc.onicecandidate = (event) => {
      if (event.candidate) {
        const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
        this.outgoingIce.push({ candidate, sdpMid, sdpMLineIndex });
        this.iceBatch ??= setTimeout(() => this.sendIce(), ICE_BATCH_MS);
      } else {
        this.sendIce(); // gathering is over: no reason to wait
      }
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected') {
        this.state = 'connected';
        this.lostSince = undefined;
        this.message = '';
      } else if (pc.connectionState === 'disconnected' || pc.connectionState === 'failed') {
        this.lostSince ??= Date.now();
        this.message = 'Connection lost: trying to reconnect…';
      }
      this.onChange();
    };
    this.timers.push(setInterval(() => void this.sample(), 1000));
    return pc;
  }

  private wireChannel(channel: RTCDataChannel): void {
    channel.binaryType = 'arraybuffer';
    channel.onopen = () => this.onChange();
    channel.onmessage = (event) => void this.onChannelMessage(event.data as string | ArrayBuffer);
  }

  private async onChannelMessage(data: string | ArrayBuffer): Promise<void> {
    if (typeof data !== 'string') {
      const incoming = this.incoming;
      if (!incoming) return;
      incoming.parts.push(data);
      incoming.received += data.byteLength;
      incoming.item.file!.received = incoming.received;
      if (incoming.received >= incoming.size) {
        this.incoming = undefined;
        const blob = new Blob(incoming.parts);
        const intact = hex(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())) === incoming.sha256 && blob.size === incoming.size;
        incoming.item.file = { ...incoming.item.file!, url: URL.createObjectURL(blob), intact, seconds: (performance.now() - incoming.startedAt) / 1000 };
      }
      if (incoming.received >= incoming.size) this.onChange();
      else this.progressChanged();
      return;
    }
    let message: { t?: string; text?: unknown; id?: unknown; name?: unknown; size?: unknown; sha256?: unknown };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      return;
    }
    if (message.t === 'path') {
      this.theirRelay = (message as { relay?: unknown }).relay === true;
      return;
    }
    if (message.t === 'text' && typeof message.text === 'string') {
      this.chat.push({ from: 'them', text: message.text.slice(0, LIMITS.dmChars) });
    } else if (message.t === 'file' && typeof message.name === 'string' && typeof message.size === 'number' && typeof message.sha256 === 'string' && message.size <= MAX_FILE_BYTES) {
      const item: ChatItem = { from: 'them', file: { name: message.name.slice(0, 200), size: message.size, received: 0 } };
      this.chat.push(item);
      this.incoming = { id: String(message.id), name: message.name, size: message.size, sha256: message.sha256, parts: [], received: 0, item, startedAt: performance.now() };
    }
    this.onChange();
  }

  /** Progress bars redraw at most ten times a second: redrawing per chunk would slow the transfer itself. */
  private lastProgress = 0;
  private progressChanged(): void {
    const now = performance.now();
    if (now - this.lastProgress < 100) return;
    this.lastProgress = now;
    this.onChange();
  }

  /** Sends my candidates found so far as one signal, once my offer or answer has gone. */
  private sendIce(): void {
    clearTimeout(this.iceBatch);
    this.iceBatch = undefined;
    if (!this.descriptionSent || this.outgoingIce.length === 0 || this.state === 'ended') return;
    const candidates = this.outgoingIce.splice(0, MAX_ICE_PER_SIGNAL);
    void this.send({ kind: 'ice', candidates }).catch(() => undefined);
    if (this.outgoingIce.length > 0) this.sendIce();
  }

  private async flushIce(): Promise<void> {
    while (this.pendingIce.length > 0 && this.pc?.remoteDescription) {
      await this.pc.addIceCandidate(this.pendingIce.shift()!).catch(() => undefined);
    }
  }

  /** Reads the path in use and what is arriving, once a second; also notices a lost connection. */
  private async sample(): Promise<void> {
    const pc = this.pc;
    if (!pc || this.state === 'ended') return;
    if (this.lostSince !== undefined && Date.now() - this.lostSince > LOST_AFTER_MS) return this.end('The connection was lost.', true);
    const report = await pc.getStats();
    let audioBytes = 0;
    let videoFrames = 0;
    let pairId: string | undefined;
    report.forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') audioBytes += Number(s.bytesReceived ?? 0);
      if (s.type === 'inbound-rtp' && s.kind === 'video') videoFrames += Number(s.framesDecoded ?? 0);
      if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') pairId = s.selectedCandidatePairId;
    });
    let path: string | null = null;
    const pair = pairId ? (report.get(pairId) as Record<string, unknown> | undefined) : undefined;
    if (pair) {
      const local = report.get(String(pair.localCandidateId)) as Record<string, unknown> | undefined;
      const remote = report.get(String(pair.remoteCandidateId)) as Record<string, unknown> | undefined;
      // Each side knows for sure only its own end. The other side's relay may look "peer-reflexive"
      // here (its checks can beat its trickled candidate), so each side also tells the other.
      const mine = local?.candidateType === 'relay';
      if (mine !== this.myRelay && this.channel?.readyState === 'open') {
        this.channel.send(JSON.stringify({ t: 'path', relay: mine }));
        this.myRelay = mine;
      }
      const remoteKey = `${String(remote?.address ?? remote?.ip)}:${String(remote?.port)}`;
      if (mine) path = `relayed by your site`;
      else if (this.theirRelay || remote?.candidateType === 'relay' || this.remoteRelays.has(remoteKey)) path = `relayed by ${this.peer.split('@')[1]}`;
      else path = 'direct';
    }
    this.stats = { path, audioBytes, videoFrames };
    this.onChange();
  }

  private async send(signal: Omit<UnsignedCallSignal, 'callId' | 'from' | 'to'>): Promise<void> {
    const recipients = this.peerDevices;
    const device = signal.kind === 'offer' || signal.kind === 'answer' ? { device: ownRecord(this.dm.me) } : {};
    const sealed = sealCallSignal(this.dm.me.device, recipients, { ...signal, ...device, callId: this.callId, from: this.dm.me.address, to: this.peer } as UnsignedCallSignal);
    await api('POST', '/api/calls/signal', { to: this.peer, callId: this.callId, sealed });
  }

  /** Ends the call with what went wrong; the other side hears of it if it knows of the call. */
  private fail(error: unknown): void {
    this.end(error instanceof Error ? error.message : String(error), this.direction === 'out' || this.descriptionSent);
  }

  /** Ends the call here; `tellPeer` also hangs up on the other side (no answer, a failure). */
  end(message: string, tellPeer = false): void {
    if (this.state === 'ended') return;
    if (tellPeer) void this.send({ kind: 'hangup' }).catch(() => undefined);
    this.state = 'ended';
    this.message = message;
    for (const timer of this.timers) clearTimeout(timer as ReturnType<typeof setTimeout>);
    clearTimeout(this.iceBatch);
    for (const track of this.localStream?.getTracks() ?? []) track.stop();
    this.pc?.close();
    this.onChange();
  }
}

/**
 * Opens a signal for this browser, checking the sender device against the sender's pinned identity
 * key. An offer or answer carries its device's certificate: when that checks out under the pinned
 * key, no lookup is needed (a ring from someone not looked up lately would otherwise wait for a
 * round trip through both sites). Otherwise, and for a person not pinned yet, their devices are
 * looked up. Returns the signal and the device that signed it (where answers go).
 */
export async function openSignal(
  dm: { api: DmApi; pins: PinStore; me: MyDevice },
  from: string,
  sealed: Parameters<typeof openCallSignal>[0],
  devicesOf: (address: string) => Promise<DeviceRecord[]> = async (address) => certifiedDevices(await peerKeys(dm.api, dm.pins, dm.me, address)),
  /** Devices of `from` checked a moment ago (from an earlier signal of this call). */
  known: DeviceRecord[] = [],
): Promise<{ signal: CallSignal; sender: DeviceRecord }> {
  const pinned = await dm.pins.get(from);
  let sender: DeviceRecord | undefined;
  const carried = (id: string, signal: CallSignal) => {
    const device = signal.device;
    sender = known.find((d) => d.id === id);
    if (!sender && pinned && device?.id === id && signal.from === from && verifyDeviceCertificate(pinned, from, device)) sender = device;
    return sender?.signKey;
  };
  let signal: CallSignal;
  try {
    signal = openCallSignal(sealed, dm.me.device, carried);
  } catch (error) {
    if (!(error instanceof CryptoError) || error.code !== 'unknown_device') throw error;
    const devices = await devicesOf(from);
    signal = openCallSignal(sealed, dm.me.device, (id) => (sender = devices.find((d) => d.id === id))?.signKey);
  }
  if (signal.from !== from || signal.to !== dm.me.address) throw new Error('the call signal names other people than the ones it came between');
  return { signal, sender: sender! };
}

/**
 * Runs the sealing, opening, signing and checking code of a call signal once ahead of a call, on
 * a signal to this device itself: a page's first runs of that code are slow (Ed25519 builds its
 * tables, and X25519, HKDF, XChaCha20 and the schema run unoptimized the first times), and a
 * ring, opened and checked on arrival, and the answer sealed after it must not wait for that.
 */
export function warmUpCrypto(me: MyDevice): void {
  const record = ownRecord(me);
  verifyDeviceCertificate(me.identity.publicKey, me.address, record);
  const sdp = 'v=0\r\n'.repeat(400); // about the size of an offer
  for (let i = 0; i < 3; i++) {
    const sealed = sealCallSignal(me.device, [record], { kind: 'offer', callId: 'warm-up', from: me.address, to: me.address, sdp, video: true, device: record });
    openCallSignal(sealed, me.device, () => record.signKey);
  }
}

/** This device's record and certificate, as its owner's profile publishes it (made once: Ed25519 signatures are deterministic). */
const ownRecords = new WeakMap<MyDevice, DeviceRecord>();
function ownRecord(me: MyDevice): DeviceRecord {
  let record = ownRecords.get(me);
  if (!record) ownRecords.set(me, (record = certifyDevice(me.identity, me.address, { id: me.device.id, signKey: me.device.sign.publicKey, dhKey: me.device.dh.publicKey })));
  return record;
}

/**
 * Whether the browser gives the microphone (and camera) without asking. Browsers without the
 * Permissions API for them (or with a prompt pending) answer false: media is then asked for first.
 */
async function mediaAllowed(video: boolean): Promise<boolean> {
  try {
    const names = (video ? ['microphone', 'camera'] : ['microphone']) as PermissionName[];
    const states = await Promise.all(names.map((name) => navigator.permissions.query({ name })));
    return states.every((state) => state.state === 'granted');
  } catch {
    return false;
  }
}

/** Puts my tracks on the transceivers of their kind, which the offer or answer already negotiated. */
async function attachMedia(pc: RTCPeerConnection, stream: MediaStream): Promise<void> {
  if (pc.connectionState === 'closed') return;
  for (const track of stream.getTracks()) {
    const transceiver = pc.getTransceivers().find((t) => t.receiver.track.kind === track.kind && !t.sender.track && t.direction === 'sendrecv');
    await transceiver?.sender.replaceTrack(track);
  }
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

export interface NetworkTestResult {
  relayConfigured: boolean;
  host: boolean;
  publicAddress: boolean;
  relay: boolean;
}

/**
 * The settings page's network test: gathers ICE candidates against my site's STUN/TURN for a few
 * seconds. A public (server-reflexive) address means direct calls can work from here; a relay
 * candidate means my site can relay when they cannot.
 */
export async function networkTest(seconds = 5): Promise<NetworkTestResult> {
  const servers = await iceServers();
  const pc = new RTCPeerConnection({ iceServers: servers });
  const found = new Set<string>();
  pc.createDataChannel('probe');
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, seconds * 1000);
    pc.onicecandidate = (event) => {
      if (event.candidate?.type) found.add(event.candidate.type);
      if (!event.candidate) {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  pc.close();
  return { relayConfigured: servers.length > 0, host: found.has('host'), publicAddress: found.has('srflx'), relay: found.has('relay') };
}
