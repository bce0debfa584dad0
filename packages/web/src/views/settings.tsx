import { useEffect, useState, type FormEvent } from 'react';
import { LIMITS } from '@hearth/protocol/limits';
import { api, uploadImage, type ApiResponse, type Profile } from '../api';
import { AddressList, ErrorBox, Loading, safeImageUrl, Time } from '../components';
import { attempt, useLoad, useTitle } from '../hooks';
import { CallsSection } from './settings-calls';
import { VaultSection } from './settings-vault';
import { RelaySection } from './settings-relay';

/** My profile and the addresses I block. */
export function SettingsView() {
  const me = useLoad(() => api<Profile>('GET', '/api/me'), []);
  const blocks = useLoad(() => api<ApiResponse<'blocks'>>('GET', '/api/blocks'), []);
  const mutes = useLoad(() => api<ApiResponse<'mutes'>>('GET', '/api/mutes'), []);
  const devices = useLoad(() => api<ApiResponse<'devices'>>('GET', '/api/devices'), []);
  const [thisDevice, setThisDevice] = useState<string>();
  useEffect(() => {
    void import('../device').then((d) => d.myDevice()).then((m) => setThisDevice(m?.device.id));
  }, []);
  const removeDevice = async (id: string) => {
    if (!window.confirm('Remove this device? It will no longer receive new messages.')) return;
    try {
      await api('DELETE', `/api/devices/${encodeURIComponent(id)}`);
      devices.reload();
    } catch (error) {
      setState({ error });
    }
  };
  const removeUnused = () =>
    attempt(setState, async () => {
      const { removed } = await api<ApiResponse<'removeUnusedDevices'>>('DELETE', `/api/devices?unusedDays=30${thisDevice ? `&keep=${encodeURIComponent(thisDevice)}` : ''}`);
      devices.reload();
      return removed;
    }, 'Browsers unused for 30 days were removed.');
  const [form, setForm] = useState<{ displayName: string; bio: string; avatarUrl: string } | undefined>();
  const [state, setState] = useState<{ error?: unknown; message?: string }>({});
  // Said beside the list where the button was, not at the top of the page.
  const [unblocked, setUnblocked] = useState<string>();
  useTitle('Settings · Hearth');
  useEffect(() => {
    if (me.data && !form) setForm({ displayName: me.data.displayName, bio: me.data.bio, avatarUrl: me.data.avatarUrl });
  }, [me.data, form]);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    await attempt(setState, () => api('PATCH', '/api/me/profile', form), 'Saved.');
  };
  const unblock = async (address: string) => {
    try {
      await api('DELETE', `/api/blocks/${encodeURIComponent(address)}`);
      blocks.reload();
      setUnblocked(`Unblocked ${address}. Follows are not restored: follow them again if you want to.`);
    } catch (error) {
      setState({ error });
    }
  };
  return (
    <main>
      <h1>Settings</h1>
      <ErrorBox error={me.error} />
      {!form && !me.error && <Loading what="your profile" />}
      {form && (
        <form onSubmit={save} className="stack" aria-label="Profile">
          <h2>Profile</h2>
          <label htmlFor="set-name">Display name</label>
          <input id="set-name" value={form.displayName} maxLength={LIMITS.displayNameChars} required onChange={(e) => setForm({ ...form, displayName: e.target.value })} />
          <label htmlFor="set-bio">Bio</label>
          <textarea id="set-bio" value={form.bio} maxLength={LIMITS.bioChars} rows={3} onChange={(e) => setForm({ ...form, bio: e.target.value })} />
          <label htmlFor="set-avatar-file">Avatar picture</label>
          {safeImageUrl(form.avatarUrl) && <img className="avatar" src={safeImageUrl(form.avatarUrl)} alt="Your current avatar" width={64} height={64} />}
          <input
            id="set-avatar-file"
            type="file"
            accept="image/jpeg,image/png,image/gif,image/webp"
            onChange={async (e) => {
              const file = e.target.files?.[0];
              if (!file) return;
              try {
                const uploaded = await uploadImage(file);
                setForm({ ...form, avatarUrl: uploaded.url });
                setState({ message: 'Picture uploaded: save the profile to use it.' });
              } catch (error) {
                setState({ error });
              }
            }}
          />
          <label htmlFor="set-avatar">or an image URL (https)</label>
          <input id="set-avatar" type="url" value={form.avatarUrl} onChange={(e) => setForm({ ...form, avatarUrl: e.target.value })} />
          <button type="submit">Save profile</button>
          {state.message && <p role="status">{state.message}</p>}
          <ErrorBox error={state.error} />
        </form>
      )}
      <section aria-label="Devices">
        <h2>Devices</h2>
        <p className="hint">Each device has its own keys for direct messages. Remove one you lost: it gets no new messages.</p>
        <ErrorBox error={devices.error} />
        <ul className="devices">
          {devices.data?.items.map((d) => (
            <li key={d.id}>
              <strong>{d.kind === 'vault' ? 'Home vault' : d.name}</strong>
              {d.id === thisDevice && <strong> (this browser)</strong>}
              <span className="hint">
                {' '}· added <Time iso={d.createdAt} /> · {d.id === thisDevice ? 'in use now' : d.lastUsedAt ? <>last used <Time iso={d.lastUsedAt} /></> : 'not used since it was added'}
              </span>{' '}
              {d.id !== thisDevice && (
                <button type="button" className="small secondary" onClick={() => void removeDevice(d.id)} aria-label={`Remove device ${d.kind === 'vault' ? 'Home vault' : d.name}`}>Remove</button>
              )}
            </li>
          ))}
        </ul>
        {(devices.data?.items.filter((d) => d.kind === 'browser' && d.id !== thisDevice).length ?? 0) > 0 && (
          <button type="button" className="secondary" onClick={() => void removeUnused()}>Remove browsers unused for 30 days</button>
        )}
      </section>
      <CallsSection />
      <VaultSection onChange={devices.reload} />
      <RelaySection />
      <AddressList label="Muted" title="Muted" items={mutes.data?.items} empty="You mute no one." action={{ name: 'Unmute', run: async (address) => { await attempt(setState, () => api('DELETE', `/api/mutes/${encodeURIComponent(address)}`), `Unmuted ${address}.`); mutes.reload(); } }} />
      <AddressList label="Blocked" title="Blocked addresses" items={blocks.data?.items} empty="You block no one." action={{ name: 'Unblock', run: unblock }} note={unblocked} />
    </main>
  );
}

