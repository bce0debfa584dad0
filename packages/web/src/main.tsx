import { lazy, StrictMode, Suspense, useCallback, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { api, DEVICE_ID_KEY, markDeviceUsed, prefetch, session, type ApiResponse } from './api';
import { CallManager } from './calls';
import { backendHost, Link } from './components';
import { live, useLiveEvents, useSiteOnline, type LiveEvent } from './live';
import { navigate, useRoute, type Route } from './router';
import { FIRST_PAGE, HomeView } from './views/home';
import { LoginView } from './views/login';
import { NotificationsView } from './views/notifications';
import { PersonView } from './views/person';
import { SearchView } from './views/search';
import { SettingsView } from './views/settings';
import { SetupView } from './views/setup';
import { SiteView } from './views/site';
import { ThreadView } from './views/thread';

const MessagesView = lazy(() => import('./views/messages'));
// Opened straight on Messages: the conversations this browser kept, and its device, are read
// while the app starts (small modules: the DM crypto is not needed to show them).
const keptDevice = localStorage.getItem(DEVICE_ID_KEY);
if (session.username && keptDevice && window.location.pathname === '/messages') {
  const username = session.username;
  void import('./history-store').then((h) => h.readEarly(h.historyScope(window.location.host, username, keptDevice))).catch(() => undefined);
  void import('./device-record').then((d) => d.readDeviceEarly(username)).catch(() => undefined);
}

/** Pages only the owner sees: logged out, they lead to the login page. */
const PRIVATE: Array<Route['name']> = ['home', 'settings', 'messages', 'notifications', 'person', 'personPost', 'search'];

/** The unread count for the nav's badge: loaded once, then kept by live events. */
function useUnread(signedIn: boolean): [number, (n: number) => void] {
  const [unread, setUnread] = useState(0);
  const refresh = useCallback(() => {
    if (!signedIn) return;
    api<ApiResponse<'notifications'>>('GET', '/api/notifications?limit=1').then((r) => setUnread(r.unread), () => undefined);
  }, [signedIn]);
  useEffect(refresh, [refresh]);
  useLiveEvents(useCallback((event: LiveEvent) => (event.type === 'notification' || event.type === 'ready') && refresh(), [refresh]));
  return [unread, setUnread];
}

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(Boolean(session.token));
  const [unread, setUnread] = useUnread(signedIn);
  const online = useSiteOnline();
  const mustLogIn = !signedIn && PRIVATE.includes(route.name);
  useEffect(() => {
    // This browser is in use: its entry in Settings > Devices says so ("last used").
    // After the page has painted: it is not what the reader came for.
    if (signedIn) setTimeout(() => void markDeviceUsed().catch(() => undefined), 1000);
  }, [signedIn]);
  useEffect(() => {
    if (mustLogIn) navigate('/login', { replace: true });
  }, [mustLogIn]);
  const logout = async () => {
    // This browser stops being one of my devices: its keys go, and the site forgets it.
    await import('./device').then((d) => d.forgetThisDevice()).catch(() => undefined);
    await api('POST', '/api/auth/logout').catch(() => undefined);
    live.close();
    session.clear();
    setSignedIn(false);
    navigate('/');
  };
  const here = (name: Route['name']) => (route.name === name ? 'page' : undefined);
  return (
    <>
      <a className="skip" href="#content">Skip to content</a>
      <nav className="top" aria-label="Site">
        <Link to="/" className="brand">Hearth</Link>
        {signedIn ? (
          <>
            <Link to="/home" current={here('home')}>Home</Link>
            <Link to="/notifications" current={here('notifications')}>
              Notifications
              {unread > 0 && (
                <>
                  <span className="badge-count" aria-hidden="true">{unread > 99 ? '99+' : unread}</span>
                  <span className="visually-hidden"> ({unread} unread)</span>
                </>
              )}
            </Link>
            <Link to="/messages" current={here('messages')}>Messages</Link>
            <Link to="/search" current={here('search')}>Search</Link>
            {session.username && <Link to={`/@${session.username}`}>My site</Link>}
            <Link to="/settings" current={here('settings')}>Settings</Link>
            <button type="button" className="link" onClick={() => void logout()}>Log out</button>
          </>
        ) : (
          <Link to="/login">Log in</Link>
        )}
      </nav>
      {signedIn && !online && (
        <p className="offline" role="status">Your site is not answering. What you do now may not be saved; this page reconnects by itself.</p>
      )}
      {signedIn && <CallManager />}
      <div id="content">
        {route.name === 'site' && <SiteView />}
        {route.name === 'profile' && <PersonView address={`${route.username}@${backendHost()}`} />}
        {route.name === 'post' && <ThreadView address={`${route.username}@${backendHost()}`} postId={route.postId} />}
        {route.name === 'login' && <LoginView onLogin={() => setSignedIn(true)} />}
        {route.name === 'setup' && <SetupView onLogin={() => setSignedIn(true)} />}
        {!mustLogIn && (
          <>
            {route.name === 'home' && <HomeView />}
            {route.name === 'notifications' && <NotificationsView onRead={setUnread} />}
            {route.name === 'person' && <PersonView address={route.address} />}
            {route.name === 'personPost' && <ThreadView address={route.address} postId={route.postId} />}
            {route.name === 'settings' && <SettingsView />}
            {route.name === 'search' && <SearchView />}
            {route.name === 'messages' && (
              <Suspense fallback={<main><p className="loading" role="status">Loading messages…</p></main>}>
                <MessagesView />
              </Suspense>
            )}
          </>
        )}
        {route.name === 'notFound' && (
          <main>
            <h1>Not found</h1>
            <p>There is nothing at this address. <Link to="/">Go to the start page</Link>.</p>
          </main>
        )}
      </div>
    </>
  );
}

// Home's first page is asked for now, while React starts.
if (window.location.pathname === '/home') prefetch(FIRST_PAGE);

// The server already rendered this page's content; the app takes over the same element.
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
