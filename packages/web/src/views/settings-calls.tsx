import { useState, type FormEvent } from 'react';
import { api, type ApiResponse } from '../api';
import { addressFromInput } from '../address-input';
import { AddressList, ErrorBox } from '../components';
import { attempt, useLoad, type Status } from '../hooks';
import { preferences } from '../preferences';

/** Call settings: always relay (hides my IP address), and a network test done with ICE. */
export function CallsSection() {
  const [alwaysRelay, setAlwaysRelay] = useState(() => preferences.alwaysRelay);
  const [result, setResult] = useState<string[]>();
  const [status, setStatus] = useState<Status>({});
  const [testing, setTesting] = useState(false);
  const allowed = useLoad(() => api<ApiResponse<'callAllowed'>>('GET', '/api/calls/allowed'), []);
  const [allowInput, setAllowInput] = useState('');
  const allow = async (event: FormEvent) => {
    event.preventDefault();
    await attempt(setStatus, async () => {
      await api('POST', '/api/calls/allowed', { address: addressFromInput(allowInput) });
      setAllowInput('');
      allowed.reload();
    }, 'Added.');
  };
  const disallow = async (address: string) => {
    await attempt(setStatus, () => api('DELETE', `/api/calls/allowed/${encodeURIComponent(address)}`), 'Removed.');
    allowed.reload();
  };
  const toggle = (on: boolean) => {
    preferences.alwaysRelay = on;
    setAlwaysRelay(on);
  };
  const test = async () => {
    setTesting(true);
    setResult(undefined);
    await attempt(setStatus, async () => {
      const { networkTest } = await import('../call-session');
      const r = await networkTest();
      setResult([
        r.publicAddress
          ? 'Direct calls: likely. Your site saw this device at a public address, so other devices can often reach it directly.'
          : r.host
            ? 'Direct calls: only with devices on the same network as this one; elsewhere calls go through a relay.'
            : 'Direct calls: no local address was found; calls need a relay.',
        !r.relayConfigured
          ? "Relay: your site has none, so calls where no direct path exists will fail (the operator can start it with 'hearth start --turn')."
          : r.relay
            ? 'Relay: available. Your site relays calls when no direct path works.'
            : 'Relay: your site has one, but this device could not reach it (a firewall may block its port).',
      ]);
    }, 'Network test finished.');
    setTesting(false);
  };
  return (
    <section aria-label="Calls">
      <h2>Calls</h2>
      <label className="check">
        <input type="checkbox" checked={alwaysRelay} onChange={(e) => toggle(e.target.checked)} /> Always relay my calls through a site (the other side then never sees my IP address; calls may be a little slower)
      </label>
      <div className="row">
        <button type="button" className="secondary" disabled={testing} onClick={() => void test()}>{testing ? 'Testing…' : 'Network test'}</button>
      </div>
      {result && (
        <ul aria-label="Network test result">
          {result.map((line) => <li key={line}>{line}</li>)}
        </ul>
      )}
      <p className="hint">Who may call you: people you follow (if they follow you too), and the people you add here.</p>
      <form onSubmit={allow} className="row" aria-label="Allow someone to call you">
        <label htmlFor="call-allow" className="visually-hidden">Address of someone who may call you</label>
        <input id="call-allow" placeholder="name@example.com" value={allowInput} onChange={(e) => setAllowInput(e.target.value)} required />
        <button type="submit" className="secondary">Allow calls</button>
      </form>
      <AddressList label="May call me" title="People who may call you without a follow" items={allowed.data?.items} empty="Nobody besides the people you follow." action={{ name: 'Remove', run: disallow }} />
      {status.message && <p role="status">{status.message}</p>}
      <ErrorBox error={status.error} />
    </section>
  );
}

