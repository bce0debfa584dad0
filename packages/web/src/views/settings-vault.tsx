import { useEffect, useState } from 'react';
import { api, BACKEND, type ApiResponse } from '../api';
import { ErrorBox, Loading, Time } from '../components';
import { attempt, useLoad, type Status } from '../hooks';

/** The home vault: paired or not, online or not, what waits for it; a one-time code to pair one. */
export function VaultSection({ onChange }: { onChange: () => void }) {
  const vault = useLoad(() => api<ApiResponse<'vault'>>('GET', '/api/vault'), []);
  const [code, setCode] = useState<{ code: string; expiresAt: string }>();
  const [status, setStatus] = useState<Status>({});
  useEffect(() => {
    // Online state and the queue change on their own: look again every 15 s while the page is open.
    const timer = setInterval(vault.reload, 15_000);
    return () => clearInterval(timer);
  }, [vault.reload]);
  const newCode = () => attempt(setStatus, async () => setCode(await api<ApiResponse<'pairingCode'>>('POST', '/api/vault/pairing-code')), 'Code ready: it works once, for 15 minutes.');
  const unpair = async () => {
    if (!window.confirm('Unpair your home vault? It stops receiving messages; what it already holds stays on it.')) return;
    await attempt(setStatus, () => api('DELETE', '/api/vault'), 'Vault unpaired.');
    vault.reload();
    onChange();
  };
  const v = vault.data;
  return (
    <section aria-label="Home vault">
      <h2>Home vault</h2>
      <p className="hint">A small computer at home that keeps your message history, encrypted, and dials out to this site: your site only ever holds what it cannot read.</p>
      <ErrorBox error={vault.error} />
      {!v && !vault.error && <Loading what="your vault" />}
      {v && !v.paired && <p>No vault is paired.</p>}
      {v?.paired && (
        <dl className="facts">
          <dt>Status</dt>
          <dd>{v.online ? <strong className="ok">Online</strong> : <strong className="warn">Offline</strong>}</dd>
          <dt>Last seen</dt>
          <dd>{v.online ? 'now' : v.lastSeenAt ? <Time iso={v.lastSeenAt} /> : 'never connected'}</dd>
          <dt>Messages waiting for it</dt>
          <dd>{v.waiting}</dd>
          <dt>Paired</dt>
          <dd>{v.pairedAt && <Time iso={v.pairedAt} />}</dd>
        </dl>
      )}
      <div className="row">
        <button type="button" onClick={() => void newCode()}>{v?.paired ? 'Pair a new vault' : 'Get a pairing code'}</button>
        {v?.paired && <button type="button" className="secondary" onClick={() => void unpair()}>Unpair</button>}
      </div>
      {code && (
        <div className="pairing">
          <p>Pairing code: <code className="code">{code.code}</code> (until <Time iso={code.expiresAt} />)</p>
          <p className="hint">On the vault, run:</p>
          <pre>hearth vault pair --data ./vault --site {BACKEND || window.location.origin} --code {code.code}</pre>
        </div>
      )}
      {status.message && <p role="status">{status.message}</p>}
      <ErrorBox error={status.error} />
    </section>
  );
}

