import { useEffect, useState, type FormEvent } from 'react';
import { LIMITS } from '@hearth/protocol/limits';
import { api, type ApiResponse } from '../api';
import { backendHost, ErrorBox, Link, Loading } from '../components';
import { useLoad } from '../hooks';
import { beginSession } from './login';

/** First run: the owner opens the link `hearth start` printed, chooses a name and password, and is home. */
export function SetupView({ onLogin }: { onLogin: () => void }) {
  // The one-time code is read once and leaves the address bar (and the history) at once.
  const [code] = useState(() => new URLSearchParams(window.location.search).get('code') ?? '');
  useEffect(() => {
    if (window.location.search) window.history.replaceState(null, '', '/setup');
  }, []);
  const needed = useLoad(() => api<ApiResponse<'setupNeeded'>>('GET', '/api/setup'), []);
  const [displayName, setDisplayName] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Set up your site · Hearth';
  }, []);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await beginSession(await api<ApiResponse<'setup'>>('POST', '/api/setup', { code, username, password, displayName }), password, onLogin);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (needed.error) return <main className="narrow"><ErrorBox error={needed.error} /></main>;
  if (!needed.data) return <main className="narrow"><Loading what="setup" /></main>;
  if (!needed.data.needed) {
    return (
      <main className="narrow">
        <h1>This site is set up</h1>
        <p><Link to="/login">Log in</Link> to continue.</p>
      </main>
    );
  }
  if (!code) {
    return (
      <main className="narrow">
        <h1>Set up your site</h1>
        <p>Open the setup link that <code>hearth start</code> printed: it carries a one-time code that proves the site is yours.</p>
      </main>
    );
  }
  return (
    <main className="narrow">
      <h1>Welcome to your new site</h1>
      <p>Choose how people will see you. You can change all of it later.</p>
      <form onSubmit={submit} className="stack">
        <label htmlFor="displayName">Your name</label>
        <input id="displayName" autoComplete="name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} required maxLength={LIMITS.displayNameChars} />
        <label htmlFor="newUsername">Username (your address will be <em>{username || 'name'}@{backendHost()}</em>)</label>
        <input
          id="newUsername"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value.toLowerCase())}
          required
          pattern="[a-z0-9_]{1,32}"
          title="1 to 32 of a-z, 0-9 and _"
        />
        <label htmlFor="newPassword">Password (at least {LIMITS.passwordMinChars} characters)</label>
        <input id="newPassword" type="password" autoComplete="new-password" minLength={LIMITS.passwordMinChars} value={password} onChange={(e) => setPassword(e.target.value)} required />
        <button type="submit" disabled={busy}>{busy ? 'Setting up…' : 'Create my site'}</button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

