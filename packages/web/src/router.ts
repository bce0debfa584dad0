import { useEffect, useState } from 'react';

/** Routes of the app; anything else is "not found". */
export type Route =
  | { name: 'site' }
  | { name: 'profile'; username: string }
  | { name: 'post'; username: string; postId: string }
  | { name: 'login' }
  | { name: 'home' }
  | { name: 'setup' }
  | { name: 'settings' }
  | { name: 'messages' }
  | { name: 'notifications' }
  | { name: 'search' }
  | { name: 'person'; address: string }
  | { name: 'personPost'; address: string; postId: string }
  | { name: 'notFound' };

export function parseRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '') return { name: 'site' };
  if (pathname === '/login') return { name: 'login' };
  if (pathname === '/home') return { name: 'home' };
  if (pathname === '/setup') return { name: 'setup' };
  if (pathname === '/settings') return { name: 'settings' };
  if (pathname === '/messages') return { name: 'messages' };
  if (pathname === '/notifications') return { name: 'notifications' };
  if (pathname === '/search') return { name: 'search' };
  const person = /^\/people\/([^/]{3,600})(?:\/([A-Za-z0-9_-]{1,64}))?\/?$/.exec(pathname);
  if (person) {
    let address: string;
    try {
      address = decodeURIComponent(person[1]!);
    } catch {
      return { name: 'notFound' };
    }
    return person[2] ? { name: 'personPost', address, postId: person[2] } : { name: 'person', address };
  }
  const profile = /^\/@([a-z0-9_]{1,32})\/?$/.exec(pathname);
  if (profile) return { name: 'profile', username: profile[1]! };
  const post = /^\/@([a-z0-9_]{1,32})\/([A-Za-z0-9_-]{1,64})$/.exec(pathname);
  if (post) return { name: 'post', username: post[1]!, postId: post[2]! };
  return { name: 'notFound' };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.scrollTo(0, 0);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return route;
}
