/**
 * The call screen and the one call this browser tab can be in. Loaded on the first ring or call.
 */
import { LIMITS } from '@hearth/protocol/limits';
import { useEffect, useRef, useState, useSyncExternalStore, type FormEvent } from 'react';
import { CallSession, iceServers, newCallId, openSignal, warmUpCrypto, MAX_FILE_BYTES } from './call-session';
import { certifiedDevices, peerKeys, type DeviceRecord, type DmApi, type MyDevice, type PinStore } from '@hearth/protocol/dm';
import { dmApi, myDevice, pins } from './device';
import { session } from './api';

type Sealed = Parameters<typeof openSignal>[2];
export interface CallEvent {
  from: string;
  callId: string;
  sealed: Sealed;
}

class CallController {
  session: CallSession | undefined;
  error: string | undefined;
  private readonly listeners = new Set<() => void>();

  /** Bumped on every change, so React's useSyncExternalStore sees changes made before it subscribed. */
  version = 0;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  };

  private notify = (): void => {
    this.version++;
    for (const listener of this.listeners) listener();
  };

  /** This browser's keys, read from IndexedDB once per login rather than once per signal. */
  private mine: { token: string; device: Promise<MyDevice | undefined> } | undefined;
  private myDevice(): Promise<MyDevice | undefined> {
    const token = session.token ?? '';
    if (this.mine?.token !== token) this.mine = { token, device: myDevice() };
    return this.mine.device;
  }

  private async context() {
    const me = await this.myDevice();
    if (!me) throw new Error('This browser has no keys for calls yet: log out and log in again here to make it one of your devices.');
    const dm = { api: dmApi, pins, me };
    return { ...dm, devicesOf: (address: string) => this.devicesOf(dm, address) };
  }

  /**
   * Gets what a call needs before anyone clicks: my site's TURN credentials, this browser's keys,
   * and (when a conversation is open) the other person's devices. A call then starts with media
   * and the offer, not with three round trips.
   */
  async warmUp(peer?: string): Promise<void> {
    const [, me] = await Promise.all([iceServers(), this.myDevice()]);
    if (me) warmUpCrypto(me);
    if (me && peer) await this.devicesOf({ api: dmApi, pins, me }, peer);
  }

  /**
   * A call brings dozens of signals (ICE candidates) from the same person: their certified devices
   * are looked up once a minute, not once a signal. A device that is new since is looked up again.
   */
  private readonly keys = new Map<string, { at: number; devices: Promise<DeviceRecord[]> }>();

  private async devicesOf(dm: { api: DmApi; pins: PinStore; me: MyDevice }, address: string): Promise<DeviceRecord[]> {
    const cached = this.keys.get(address);
    if (cached && Date.now() - cached.at < 60_000) return cached.devices;
    const devices = peerKeys(dm.api, dm.pins, dm.me, address).then(certifiedDevices);
    this.keys.set(address, { at: Date.now(), devices });
    devices.catch(() => this.keys.delete(address));
    return devices;
  }

  /**
   * Devices whose certificate a signal carried and that checked out under the pinned identity key:
   * the call's next signals (its ICE candidates) are checked with them, without a lookup. Kept as
   * long as looked-up devices are, so a device removed since stops being taken soon after.
   */
  private readonly checked = new Map<string, { at: number; device: DeviceRecord }>();

  private checkedDevices(address: string): DeviceRecord[] {
    const devices: DeviceRecord[] = [];
    for (const [key, entry] of this.checked) {
      if (Date.now() - entry.at >= 60_000) this.checked.delete(key);
      else if (key.startsWith(`${address} `)) devices.push(entry.device);
    }
    return devices;
  }

  get busy(): boolean {
    return this.session !== undefined && this.session.state !== 'ended';
  }

  /** `clickedAt`: when the person clicked "Call" (performance.now()), where the setup time starts. */
  async start(peer: string, video: boolean, clickedAt = performance.now()): Promise<void> {
    this.error = undefined;
    if (this.busy) throw new Error('You are already in a call.');
    const session = new CallSession(await this.context(), peer, newCallId(), 'out', video, this.notify, clickedAt);
    this.session = session;
    this.notify();
    await session.start();
  }

  /** A signal from my site's live events: for the current call, or a new ring. */
  async receive(event: CallEvent): Promise<void> {
    const dm = await this.context();
    const { signal, sender } = await openSignal(dm, event.from, event.sealed, dm.devicesOf, [
      ...this.checkedDevices(event.from),
      ...(this.session?.peer === event.from && this.session.state !== 'ended' ? this.session.knownDevices : []),
    ]);
    const key = `${event.from} ${sender.id}`;
    if (!this.checked.has(key)) this.checked.set(key, { at: Date.now(), device: sender });
    // A ring: my TURN credentials are fetched while it rings, not after "Answer".
    if (signal.kind === 'offer') void iceServers().catch(() => undefined);
    if (this.session?.callId === signal.callId) return this.session.onSignal(signal);
    if (signal.kind !== 'offer') return; // about a call this tab is not in (answered on another device)
    const session = new CallSession(dm, event.from, signal.callId, 'in', signal.video ?? true, this.notify);
    if (this.busy) return session.busy();
    this.session = session;
    this.notify();
    await session.ring(signal, sender);
    this.notify();
  }

  dismiss(): void {
    if (this.busy) return;
    this.session = undefined;
    this.notify();
  }
}

export const calls = new CallController();

function Video({ stream, muted, label }: { stream: MediaStream | undefined; muted?: boolean; label: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (ref.current && stream && ref.current.srcObject !== stream) ref.current.srcObject = stream;
  });
  return <video ref={ref} autoPlay playsInline muted={muted} aria-label={label} />;
}

const kB = (n: number) => `${Math.round(n / 1024).toLocaleString()} kB`;

export function CallScreen() {
  useSyncExternalStore(calls.subscribe, () => calls.version);
  const [text, setText] = useState('');
  const [fileError, setFileError] = useState<string>();
  const session = calls.session;
  if (!session) return null;
  const { state, peer } = session;
  const title = state === 'ringing' ? `Incoming ${session.video ? 'video ' : ''}call from ${peer}` : `Call with ${peer}`;
  const status =
    state === 'calling'
      ? 'Calling…'
      : state === 'ringing'
        ? 'Ringing'
        : state === 'connecting'
          ? 'Connecting…'
          : state === 'connected'
            ? `Connected${session.setupMs === undefined ? '' : ` in ${(session.setupMs / 1000).toFixed(2)} s`}`
            : session.message;
  const send = (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) return;
    session.sendText(text);
    setText('');
  };
  const live = state === 'connected' || state === 'connecting';
  return (
    <section className="call" role="dialog" aria-label={title}>
      <h2>{title}</h2>
      <p role="status" className="call-status">
        {status}
        {state !== 'ended' && session.message && ` · ${session.message}`}
      </p>
      {state === 'ringing' ? (
        <div className="row">
          <button type="button" onClick={() => void session.accept()}>Answer</button>
          <button type="button" className="secondary" onClick={() => session.decline()}>Decline</button>
        </div>
      ) : (
        <>
          {state !== 'ended' && (
            <div className="videos">
              <Video stream={session.remoteStream} label={`Video from ${peer}`} />
              <Video stream={session.localStream} muted label="Your camera" />
            </div>
          )}
          {live && (
            // Figures for the curious (and for support), not for every call: behind "details".
            <details className="debug">
              <summary>Connection details</summary>
              <p className="hint call-stats" aria-label="Call statistics">
                Path: <strong className="call-path">{session.stats.path ?? 'finding one…'}</strong> · received {kB(session.stats.audioBytes)} of audio, {session.stats.videoFrames} video frames
              </p>
            </details>
          )}
          <div className="row">
            {state !== 'ended' ? (
              <>
                <button type="button" className="secondary" aria-pressed={session.muted} onClick={() => session.toggleMute()}>{session.muted ? 'Unmute' : 'Mute'}</button>
                {session.video && <button type="button" className="secondary" aria-pressed={session.cameraOff} onClick={() => session.toggleCamera()}>{session.cameraOff ? 'Camera on' : 'Camera off'}</button>}
                <button type="button" className="danger" onClick={() => session.hangUp()}>Hang up</button>
              </>
            ) : (
              <button type="button" onClick={() => calls.dismiss()}>Close</button>
            )}
          </div>
        </>
      )}
      {live && (
        <div className="call-chat" aria-label="Chat during the call">
          <ol>
            {session.chat.map((item, i) => (
              <li key={i} className={item.from === 'me' ? 'mine' : 'theirs'}>
                {item.text}
                {item.file && (
                  <span className="file">
                    {item.file.name} ({kB(item.file.size)}){' '}
                    {item.file.url ? (
                      <>
                        <a href={item.file.url} download={item.file.name}>Download</a>{' '}
                        {item.file.intact ? <span className="ok">received intact</span> : <span className="warn">damaged in transfer</span>}
                        {item.file.seconds !== undefined && <span className="hint transfer-speed"> at {(item.file.size / 1024 / 1024 / Math.max(item.file.seconds, 0.001)).toFixed(1)} MB/s</span>}
                      </>
                    ) : item.file.intact ? (
                      <span className="ok">sent</span>
                    ) : (
                      <progress max={item.file.size} value={item.file.received} aria-label={`Transfer of ${item.file.name}`} />
                    )}
                  </span>
                )}
              </li>
            ))}
          </ol>
          <form onSubmit={send} className="row">
            <label htmlFor="call-text" className="visually-hidden">Chat message</label>
            <input id="call-text" value={text} maxLength={LIMITS.dmChars} onChange={(e) => setText(e.target.value)} placeholder="Chat during the call" />
            <button type="submit">Send</button>
          </form>
          <label htmlFor="call-file">Send a file (up to {MAX_FILE_BYTES / 1024 / 1024} MB)</label>
          <input
            id="call-file"
            type="file"
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = '';
              if (file) session.sendFile(file).then(() => setFileError(undefined), (error: Error) => setFileError(error.message));
            }}
          />
          {fileError && <p className="error" role="alert">{fileError}</p>}
        </div>
      )}
    </section>
  );
}
