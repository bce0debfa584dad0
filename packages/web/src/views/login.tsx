import { useState, type FormEvent } from 'react';
import { api, session, type ApiResponse } from '../api';
import { ErrorBox } from '../components';
import { useTitle } from '../hooks';
import { navigate } from '../router';

/**
 * After a login or the first-run setup: keep the session, make this browser one of my devices
 * (the password is at hand only now, to restore the identity key), and go home.
 */
export async function beginSession(res: { token: string; username: string }, password: string, onLogin: () => void): Promise<void> {
  session.save(res.token, res.username);
  await import('../device').then((d) => d.ensureDevice(password));
  onLogin();
  // replace: the setup link (with its one-time code) or the login form is not a page to go back to.
  navigate('/home', { replace: true });
}

export function LoginView({ onLogin }: { onLogin: () => void }) {
  // A new site's owner arrives from the host's signup page with their name filled in.
  const params = new URLSearchParams(window.location.search);
  const welcome = params.get('welcome') === '1';
  const [username, setUsername] = useState(params.get('user') ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await beginSession(await api<ApiResponse<'login'>>('POST', '/api/auth/login', { username: username.trim().toLowerCase(), password }), password, onLogin);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  useTitle('Log in · Hearth');
  return (
    <main className="narrow">
      <h1>{welcome ? 'Welcome to your new site' : 'Log in'}</h1>
      {welcome && <p>Your site is ready. Log in with the password you just chose to start posting.</p>}
      <form onSubmit={submit} className="stack">
        <label htmlFor="username">Username</label>
        <input id="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        <label htmlFor="password">Password</label>
        <input id="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        <button type="submit" disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

