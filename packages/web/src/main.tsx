import { lazy, StrictMode, Suspense, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { api, session } from './api';
import { CallManager } from './calls';
import { Link } from './components';
import { navigate, useRoute } from './router';
import { HomeView, LoginView, PostView, ProfileView, SettingsView, SetupView, SiteView } from './views';

const MessagesView = lazy(() => import('./messages'));

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(Boolean(session.token));
  const logout = async () => {
    await api('POST', '/api/auth/logout').catch(() => undefined);
    session.clear();
    setSignedIn(false);
    navigate('/');
  };
  return (
    <>
      <a className="skip" href="#content">Skip to content</a>
      <nav className="top" aria-label="Site">
        <Link to="/" className="brand">Hearth</Link>
        {signedIn ? (
          <>
            <Link to="/home">Home</Link>
            {session.username && <Link to={`/@${session.username}`}>My site</Link>}
            <Link to="/messages">Messages</Link>
            <Link to="/settings">Settings</Link>
            <button type="button" className="link" onClick={logout}>Log out</button>
          </>
        ) : (
          <Link to="/login">Log in</Link>
        )}
      </nav>
      {signedIn && <CallManager />}
      <div id="content">
        {route.name === 'site' && <SiteView />}
        {route.name === 'profile' && <ProfileView username={route.username} />}
        {route.name === 'post' && <PostView username={route.username} postId={route.postId} />}
        {route.name === 'login' && <LoginView onLogin={() => setSignedIn(true)} />}
        {route.name === 'home' && <HomeView />}
        {route.name === 'setup' && <SetupView onLogin={() => setSignedIn(true)} />}
        {route.name === 'settings' && <SettingsView />}
        {route.name === 'messages' && (
          <Suspense fallback={<main><p className="loading" role="status">Loading messages…</p></main>}>
            <MessagesView />
          </Suspense>
        )}
        {route.name === 'notFound' && (
          <main>
            <h1>Not found</h1>
            <p>There is nothing at this address.</p>
          </main>
        )}
      </div>
    </>
  );
}

// The server already rendered this page's content; the app takes over the same element.
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
