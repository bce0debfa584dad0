import { memo, useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import type { MyDevice } from '@hearth/protocol/dm';
import { LIMITS } from '@hearth/protocol/limits';
import { api, type ApiResponse } from '../api';
import { ErrorBox, Loading, PersonLink, Time } from '../components';
import { conversations, myDevice, safetyNumber, send, type Conversations } from '../device';
import type { ListedDm } from '@hearth/protocol/dm';
import { useLiveEvents, type LiveEvent } from '../live';
import { addressFromInput } from '../address-input';
import { startCall, warmUpCalls } from '../calls';

/** How many messages of a conversation are shown at first, and added by "Show earlier messages". */
const THREAD_PAGE = 100;

/** One message; unchanged messages are not rendered again when a new one arrives. */
const Message = memo(function Message({ message, mine }: { message: ListedDm; mine: boolean }) {
  return (
    <li className={mine ? 'mine' : 'theirs'}>
      <p>{message.text}</p>
      <Time iso={message.sentAt} />
    </li>
  );
});

/** Direct messages, decrypted in this browser. Loaded on demand (see device.ts). */
export default function MessagesView() {
  const [me, setMe] = useState<MyDevice | null>();
  const [data, setData] = useState<Conversations>();
  const [error, setError] = useState<unknown>();
  // ?with=ADDRESS (from a person's page or a notification) opens that conversation.
  const [peer, setPeer] = useState<string | undefined>(() => new URLSearchParams(window.location.search).get('with') ?? undefined);
  const [text, setText] = useState('');
  const [newPeer, setNewPeer] = useState('');
  const [safety, setSafety] = useState<string>();

  // Opening shows what this browser kept at once, then reads only what it does not have yet (and
  // asks the vault once); a new message then brings only itself (see conversations()).
  const load = useCallback(async (opening = false) => {
    try {
      const device = (await myDevice()) ?? null;
      setMe(device);
      if (device) setData(await conversations(device, { opening, early: setData }));
    } catch (err) {
      setError(err);
    }
  }, []);
  useEffect(() => {
    document.title = 'Messages · Hearth';
    void load(true);
  }, [load]);
  useLiveEvents(useCallback((event: LiveEvent) => {
    // A new message, or a reconnect (something may have come meanwhile).
    if ((event.type === 'notification' && event.kind === 'dm') || event.type === 'ready') void load();
  }, [load]));

  const peers = useMemo(() => {
    const set = new Set<string>();
    for (const m of data?.messages ?? []) set.add(me && m.from === me.address ? m.to : m.from);
    return [...set];
  }, [data, me]);
  const thread = useMemo(() => (data?.messages ?? []).filter((m) => m.from === peer || m.to === peer), [data, peer]);
  // The latest messages first; older ones on request, so a long conversation opens as fast as a short one.
  const [shown, setShown] = useState(THREAD_PAGE);
  useEffect(() => setShown(THREAD_PAGE), [peer]);
  const visible = thread.slice(-shown);
  // Opening a conversation shows its latest messages and the box to answer in, as chat apps do;
  // while the reader stays at the end, it stays in view as messages come and the page above
  // grows (the safety number, a hint); once they scroll up to read, it is left where they are.
  const composer = useRef<HTMLFormElement>(null);
  const conversation = useRef<HTMLElement>(null);
  useEffect(() => {
    const section = conversation.current;
    if (!section) return;
    let stayAtEnd = true; // a conversation opens at its end
    let ours = false; // the scroll event of our own scrolling says nothing of the reader
    const follow = () => {
      if (!stayAtEnd) return;
      const before = window.scrollY;
      composer.current?.scrollIntoView({ block: 'end' });
      ours ||= window.scrollY !== before;
    };
    const look = () => {
      if (ours) return void (ours = false);
      // Where the reader is now (the browser's scroll anchoring keeps this when the page changes above).
      stayAtEnd = document.documentElement.scrollHeight - (window.innerHeight + window.scrollY) < 150;
    };
    // What changes the place of the end: the page growing, and messages coming (a new one replaces
    // the oldest shown, which leaves the size as it was).
    const resized = new ResizeObserver(follow);
    resized.observe(section);
    resized.observe(document.body);
    const changed = new MutationObserver(follow);
    changed.observe(section, { childList: true, subtree: true });
    window.addEventListener('scroll', look, { passive: true });
    follow();
    return () => {
      resized.disconnect();
      changed.disconnect();
      window.removeEventListener('scroll', look);
    };
  }, [peer, me]); // the conversation's section mounts once this browser's device is known
  // Names for the conversation list, as my site knows them (addresses stay beside them).
  const [names, setNames] = useState<Record<string, string>>({});
  const peerKey = peers.join(',');
  useEffect(() => {
    if (!peerKey) return;
    api<ApiResponse<'names'>>('GET', `/api/people?addresses=${encodeURIComponent(peerKey)}`).then(
      (r) => setNames(Object.fromEntries(r.items.filter((p) => p.displayName).map((p) => [p.address, p.displayName!]))),
      () => undefined,
    );
  }, [peerKey]);

  useEffect(() => {
    if (peer) void warmUpCalls(peer);
  }, [peer]);
  useEffect(() => {
    setSafety(undefined);
    if (me && peer) safetyNumber(me, peer).then(setSafety, setError);
  }, [me, peer]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!me || !peer) return;
    try {
      await send(me, peer, text);
      setText('');
      setError(undefined);
      await load();
    } catch (err) {
      setError(err);
    }
  };
  const start = (event: FormEvent) => {
    event.preventDefault();
    try {
      setPeer(addressFromInput(newPeer));
      setNewPeer('');
    } catch (err) {
      setError(err);
    }
  };

  if (me === undefined) return <main><Loading what="your messages" /></main>;
  if (me === null) {
    return (
      <main>
        <h1>Messages</h1>
        <p>This browser has no keys for messages yet: log out and log in again here to make it one of your devices.</p>
      </main>
    );
  }
  return (
    <main className="messages">
      <h1>Messages</h1>
      <p className="hint">End-to-end encrypted: only your devices and theirs can read these, not your site, not theirs.</p>
      {data?.vault === 'merged' && <p className="hint" role="status">Including the history kept by your home vault.</p>}
      {data?.vault === 'offline' && <p className="hint" role="status">Your home vault is offline: older messages from before this browser joined are not shown.</p>}
      {data?.vault === 'kept' && <p className="hint" role="status">Your home vault is offline: its history is shown as this browser last read it.</p>}
      <ErrorBox error={error} />
      {!data && !error && <Loading what="your messages" />}
      <form onSubmit={start} className="row" aria-label="New conversation">
        <label htmlFor="dm-to" className="visually-hidden">Address</label>
        <input id="dm-to" placeholder="Message someone: name@example.com" value={newPeer} onChange={(e) => setNewPeer(e.target.value)} required />
        <button type="submit">Open</button>
      </form>
      <nav aria-label="Conversations">
        <ul className="peers">
          {peers.map((p) => (
            <li key={p}>
              <button type="button" className={p === peer ? 'small' : 'small secondary'} aria-current={p === peer} onClick={() => setPeer(p)}>
                {names[p] ? <>{names[p]} <span className="address">{p}</span></> : p}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      {peer && (
        <section aria-label={`Conversation with ${peer}`} ref={conversation}>
          <h2><PersonLink address={peer} /></h2>
          <div className="row">
            <button type="button" className="small" onClick={() => startCall(peer, false).catch(setError)}>Call</button>
            <button type="button" className="small" onClick={() => startCall(peer, true).catch(setError)}>Video call</button>
          </div>
          <p className="hint">Safety number: <span className="safety">{safety ?? '…'}</span> (compare it with {peer} in person or on a call)</p>
          {thread.length > visible.length && (
            <button type="button" className="small secondary earlier" onClick={() => setShown((n) => n + THREAD_PAGE)}>
              Show earlier messages
            </button>
          )}
          <ol className="thread">
            {visible.map((m) => (
              <Message key={m.id} message={m} mine={m.from === me.address} />
            ))}
          </ol>
          <form onSubmit={submit} className="row" ref={composer}>
            <label htmlFor="dm-text" className="visually-hidden">Message to {peer}</label>
            <input id="dm-text" value={text} onChange={(e) => setText(e.target.value)} maxLength={LIMITS.dmChars} required placeholder={`Message ${peer}`} />
            <button type="submit">Send</button>
          </form>
        </section>
      )}
      {(data?.rejected.length ?? 0) > 0 && <p className="error" role="alert">{data!.rejected.length} message(s) could not be verified and are not shown.</p>}
    </main>
  );
}
