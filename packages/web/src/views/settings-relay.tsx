import { useState, type FormEvent } from 'react';
import { api, type ApiResponse } from '../api';
import { addressFromInput } from '../address-input';
import { ErrorBox, PersonLink, Time } from '../components';
import { attempt, useLoad, type Status } from '../hooks';

type Friend = ApiResponse<'relayFriends'>['friends'][number];
type Path = ApiResponse<'relayPaths'>['paths'][number];

const size = (bytes: number) => {
  if (bytes >= 1024 * 1024 * 1024) return `${+(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 * 1024) return `${+(bytes / 1024 ** 2).toFixed(1)} MB`;
  return bytes === 0 ? '0 KB' : `${Math.max(1, Math.round(bytes / 1024))} KB`;
};
const untilText = (iso: string) => {
  const minutes = Math.round((Date.parse(iso) - Date.now()) / 60_000);
  return minutes < 1 ? 'in a moment' : `in about ${minutes} min`;
};
const messages = (n: number) => `${n} message${n === 1 ? '' : 's'}`;

/**
 * The friends relay (PROTOCOL.md §9): the relays I use when a site cannot be reached directly,
 * the friends I relay for (with what I passed on for each: counts, never contents), and how my
 * site reaches the people I know right now.
 */
export function RelaySection() {
  const [status, setStatus] = useState<Status>({});
  const mine = useLoad(() => api<ApiResponse<'myRelays'>>('GET', '/api/relay/mine'), []);
  const friends = useLoad(() => api<ApiResponse<'relayFriends'>>('GET', '/api/relay/friends'), []);
  const paths = useLoad(() => api<ApiResponse<'relayPaths'>>('GET', '/api/relay/paths'), []);
  const [useInput, setUseInput] = useState('');
  const [friendInput, setFriendInput] = useState('');

  const addRelay = async (event: FormEvent) => {
    event.preventDefault();
    await attempt(setStatus, async () => {
      const added = await api<ApiResponse<'myRelayAdd'>>('POST', '/api/relay/mine', { address: addressFromInput(useInput) });
      mine.set(added);
      setUseInput('');
    }, 'Relay added. Your site tries it when a direct path fails.');
  };
  const removeRelay = async (address: string) => {
    await attempt(setStatus, () => api('DELETE', `/api/relay/mine/${encodeURIComponent(address)}`), `You no longer use ${address} as a relay.`);
    mine.reload();
  };
  const addFriend = async (event: FormEvent) => {
    event.preventDefault();
    await attempt(setStatus, async () => {
      await api('POST', '/api/relay/friends', { address: addressFromInput(friendInput) });
      setFriendInput('');
      friends.reload();
    }, 'You now relay for them.');
  };
  const setMutuals = async (on: boolean) => {
    await attempt(setStatus, async () => {
      await api('PUT', '/api/relay/settings', { mutuals: on });
      friends.reload();
    }, on ? 'You now also relay for everyone you follow who follows you back.' : 'You relay only for the people on your list.');
  };
  const stopFriend = async (address: string) => {
    await attempt(setStatus, () => api('DELETE', `/api/relay/friends/${encodeURIComponent(address)}`), `Stopped: your site no longer passes on anything from ${address}.`);
    friends.reload();
  };

  const relayed = (paths.data?.paths ?? []).filter((p) => p.via !== null);
  return (
    <section aria-label="Friends relay">
      <h2>Friends relay</h2>
      <p className="hint">
        When your site cannot reach someone’s site directly (a firewall, a blocked network, a site down in one region), it can go through the site of a friend
        that both of you can reach. Your friend’s site passes your messages on sealed: it can neither read nor change them.
      </p>

      <h3>Relays you use</h3>
      {mine.data?.relays.length === 0 && <p className="empty">None yet. Add a friend who has agreed to relay for you; your site tries them in this order.</p>}
      <ol className="people" aria-label="Relays you use">
        {mine.data?.relays.map((address) => (
          <li key={address}>
            <PersonLink address={address} />{' '}
            <button type="button" className="small secondary" onClick={() => void removeRelay(address)} aria-label={`Stop using ${address}`}>Remove</button>
          </li>
        ))}
      </ol>
      <form onSubmit={addRelay} className="row" aria-label="Add a relay you use">
        <label htmlFor="relay-use" className="visually-hidden">Address of a friend who relays for you</label>
        <input id="relay-use" placeholder="friend@example.com" value={useInput} onChange={(e) => setUseInput(e.target.value)} required />
        <button type="submit" className="secondary">Use as relay</button>
      </form>

      <h3>You relay for</h3>
      <label className="check">
        <input type="checkbox" checked={friends.data?.mutuals ?? false} disabled={!friends.data} onChange={(e) => void setMutuals(e.target.checked)} /> Also relay for everyone I follow who follows me back
      </label>
      {friends.data?.friends.length === 0 && <p className="empty">Nobody. Your site passes on messages only for the people you add here, and only to the sites where people you add live.</p>}
      <ul className="people" aria-label="People you relay for">
        {friends.data?.friends.map((f: Friend) => (
          <li key={f.address}>
            <PersonLink address={f.address} name={f.displayName} />{' '}
            <span className="hint">
              {f.mutual ? ' · you follow each other' : ''}{' '}· today {messages(f.today.envelopes)} ({size(f.today.bytes)}){f.today.refused > 0 ? `, ${f.today.refused} refused` : ''} · in all {messages(f.total.envelopes)} · at most {f.perMinute} a minute, {size(f.bytesPerDay)} a day
            </span>{' '}
            {!f.mutual && <button type="button" className="small secondary" onClick={() => void stopFriend(f.address)} aria-label={`Stop relaying for ${f.address}`}>Stop</button>}
          </li>
        ))}
      </ul>
      <form onSubmit={addFriend} className="row" aria-label="Relay for someone">
        <label htmlFor="relay-friend" className="visually-hidden">Address of a friend to relay for</label>
        <input id="relay-friend" placeholder="friend@example.com" value={friendInput} onChange={(e) => setFriendInput(e.target.value)} required />
        <button type="submit" className="secondary">Relay for them</button>
      </form>

      <h3>How your site reaches people</h3>
      {relayed.length === 0 ? (
        <p className="empty">Directly, everyone: no relay is in use.</p>
      ) : (
        <ul aria-label="Paths through a relay">
          {relayed.map((p: Path) => (
            <li key={p.site}>
              {p.people.length > 0 ? p.people.join(', ') : p.site}: through {p.via} since <Time iso={p.since} />
              {p.nextProbeAt && <> (trying the direct path again {untilText(p.nextProbeAt)})</>}
            </li>
          ))}
        </ul>
      )}
      {status.message && <p role="status">{status.message}</p>}
      <ErrorBox error={status.error ?? mine.error ?? friends.error ?? paths.error} />
    </section>
  );
}
