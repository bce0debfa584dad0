/**
 * One call between this browser and another person's browser: WebRTC media and a data channel,
 * with every signal sealed end to end and routed through both people's sites (call.signal).
 * ICE tries direct paths first and falls back to a TURN relay on either person's own site.
 * Loaded only when a call starts or rings.
 */
import { certifiedDevices, openCallSignal, peerKeys, sealCallSignal, type CallSignal, type DeviceRecord, type DmApi, type MyDevice, type PinStore, type UnsignedCallSignal } from '@hearth/protocol/dm';
import { LIMITS } from '@hearth/protocol/limits';
import { api, ApiError } from './api';
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
export const MAX_FILE_BYTES = 100 * 1024 * 1024;

/** My site's TURN relay, or none (then only direct paths are tried; no third-party server is ever used). */
export async function iceServers(): Promise<RTCIceServer[]> {
  try {
    const turn = await api<{ urls: string[]; username: string; credential: string }>('GET', '/api/turn-credentials');
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
  private startedAt = performance.now();
  localStream: MediaStream | undefined;
  readonly remoteStream = new MediaStream();
  private pc: RTCPeerConnection | undefined;
  private channel: RTCDataChannel | undefined;
  private peerDevices: DeviceRecord[] = [];
  private readonly pendingIce: RTCIceCandidateInit[] = [];
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
    private readonly dm: { api: DmApi; pins: PinStore; me: MyDevice },
    readonly peer: string,
    readonly callId: string,
    readonly direction: 'out' | 'in',
    readonly video: boolean,
    private readonly onChange: () => void,
  ) {
    this.state = direction === 'out' ? 'calling' : 'ringing';
  }

  /** Caller: media, offer, ring. */
  async start(): Promise<void> {
    try {
      await this.loadPeer();
      await this.preparePeerConnection();
      this.channel = this.pc!.createDataChannel('chat', { ordered: true });
      this.wireChannel(this.channel);
      const offer = await this.pc!.createOffer();
      await this.pc!.setLocalDescription(offer);
      const ring = { kind: 'offer' as const, sdp: offer.sdp, video: this.video };
      await this.send(ring);
      // Ring again every few seconds: a page of theirs that opens meanwhile rings too.
      const again = setInterval(() => this.state === 'calling' && void this.send(ring).catch(() => undefined), RING_EVERY_MS);
      this.timers.push(again);
      this.timers.push(setTimeout(() => this.state === 'calling' && this.end('No answer.', true), NO_ANSWER_MS));
    } catch (error) {
      this.fail(error);
    }
  }

  /** Callee: the ring arrived with the caller's offer. */
  async ring(offer: CallSignal): Promise<void> {
    this.offerSdp = offer.sdp;
    await this.loadPeer().catch((error: unknown) => this.fail(error));
    this.timers.push(setTimeout(() => this.state === 'ringing' && this.end('Missed call.'), NO_ANSWER_MS));
  }

  async accept(): Promise<void> {
    if (this.state !== 'ringing' || !this.offerSdp) return;
    this.startedAt = performance.now();
    this.state = 'connecting';
    this.onChange();
    try {
      await this.preparePeerConnection();
      await this.pc!.setRemoteDescription({ type: 'offer', sdp: this.offerSdp });
      await this.flushIce();
      const answer = await this.pc!.createAnswer();
      await this.pc!.setLocalDescription(answer);
      await this.send({ kind: 'answer', sdp: answer.sdp });
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
        if (signal.candidate) {
          const relay = / (\S+) (\d+) typ relay/.exec(signal.candidate.candidate);
          if (relay) this.remoteRelays.add(`${relay[1]}:${relay[2]}`);
          this.pendingIce.push(signal.candidate);
          if (this.pc?.remoteDescription) await this.flushIce();
        }
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
    const keys = await peerKeys(this.dm.api, this.dm.pins, this.dm.me, this.peer);
    this.peerDevices = certifiedDevices(keys);
    if (this.peerDevices.length === 0) throw new Error(`${this.peer} has no device that can take calls`);
  }

  private async preparePeerConnection(): Promise<void> {
    if (!navigator.mediaDevices) throw new Error('Calls need this page over https: browsers give cameras and microphones only to secure pages.');
    try {
      this.localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: this.video });
    } catch (error) {
      const name = (error as DOMException).name;
      if (name === 'NotAllowedError') throw new Error('Your browser did not allow the microphone or camera: allow them for this site and call again.');
      if (name === 'NotFoundError') throw new Error(`No ${this.video ? 'camera or microphone' : 'microphone'} was found.`);
      throw error;
    }
    const pc = new RTCPeerConnection({ iceServers: await iceServers(), iceTransportPolicy: preferences.alwaysRelay ? 'relay' : 'all' });
    this.pc = pc;
    for (const track of this.localStream.getTracks()) pc.addTrack(track, this.localStream);
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
      if (!event.candidate) return;
      const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
      void this.send({ kind: 'ice', candidate: { candidate, sdpMid, sdpMLineIndex } }).catch(() => undefined);
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
    const sealed = sealCallSignal(this.dm.me.device, recipients, { ...signal, callId: this.callId, from: this.dm.me.address, to: this.peer } as UnsignedCallSignal);
    await api('POST', '/api/calls/signal', { to: this.peer, callId: this.callId, sealed });
  }

  private fail(error: unknown): void {
    this.end(error instanceof Error ? error.message : String(error), this.direction === 'out');
  }

  /** Ends the call here; `tellPeer` also hangs up on the other side (no answer, a failure). */
  end(message: string, tellPeer = false): void {
    if (this.state === 'ended') return;
    if (tellPeer) void this.send({ kind: 'hangup' }).catch(() => undefined);
    this.state = 'ended';
    this.message = message;
    for (const timer of this.timers) clearTimeout(timer as ReturnType<typeof setTimeout>);
    for (const track of this.localStream?.getTracks() ?? []) track.stop();
    this.pc?.close();
    this.onChange();
  }
}

/** Opens a signal for this browser, checking the sender device against the sender's pinned identity key. */
export async function openSignal(
  dm: { api: DmApi; pins: PinStore; me: MyDevice },
  from: string,
  sealed: Parameters<typeof openCallSignal>[0],
  devicesOf: (address: string) => Promise<DeviceRecord[]> = async (address) => certifiedDevices(await peerKeys(dm.api, dm.pins, dm.me, address)),
): Promise<CallSignal> {
  const devices = await devicesOf(from);
  const signal = openCallSignal(sealed, dm.me.device, (id) => devices.find((d) => d.id === id)?.signKey);
  if (signal.from !== from || signal.to !== dm.me.address) throw new Error('the call signal names other people than the ones it came between');
  return signal;
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
