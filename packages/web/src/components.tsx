import { useEffect, useState, type ReactNode } from 'react';
import { renderMarkdown } from '@hearth/protocol/markdown';
import { BACKEND, session } from './api';
import { navigate } from './router';

/** An in-app link: a real <a href> (works with keyboard, middle-click, no JS), routed without reload. */
export function Link({ to, children, className, label, current }: { to: string; children: ReactNode; className?: string; label?: string; current?: 'page' }) {
  if (/^https?:\/\//.test(to)) {
    return <a href={to} className={className} aria-label={label} rel="noopener noreferrer nofollow">{children}</a>;
  }
  return (
    <a
      href={to}
      className={className}
      aria-label={label}
      aria-current={current}
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/** The host (and port) of my site, as it appears in addresses. */
export function backendHost(): string {
  return BACKEND ? new URL(BACKEND).host : window.location.host;
}

/** `name` when the address is on this site, else undefined. */
export function localName(address: string): string | undefined {
  const at = address.indexOf('@');
  return at > 0 && address.slice(at + 1) === backendHost() ? address.slice(0, at) : undefined;
}

/**
 * Where a person's page is: on this site its public page; elsewhere, for me, their page seen
 * through my own site; for a visitor, their own site (a plain outbound link).
 */
export function personPath(address: string): string {
  const local = localName(address);
  if (local) return `/@${local}`;
  if (session.token) return `/people/${encodeURIComponent(address)}`;
  const at = address.indexOf('@');
  const host = address.slice(at + 1);
  const scheme = /^(localhost|127\.|\[::1\])/.test(host) ? 'http' : 'https';
  return `${scheme}://${host}/@${address.slice(0, at)}`;
}

export function postPath(author: string, id: string): string {
  const local = localName(author);
  if (local) return `/@${local}/${id}`;
  if (session.token) return `/people/${encodeURIComponent(author)}/${id}`;
  return `${personPath(author)}/${id}`;
}

/** Only http(s) images: a javascript: or data: URL never reaches an <img>. */
export function safeImageUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/** A round picture, or the first letter of the name when there is none. */
export function Avatar({ name, url, size = 40 }: { name: string; url?: string; size?: number }) {
  const src = safeImageUrl(url);
  if (src) return <img className="avatar" src={src} alt="" width={size} height={size} />;
  return (
    <span className="avatar letter" aria-hidden="true" style={{ width: size, height: size, fontSize: size * 0.45 }}>
      {(name.trim()[0] ?? '?').toUpperCase()}
    </span>
  );
}

/** A person as a link to their page: name first, the address beside it. */
export function PersonLink({ address, name, avatarUrl, avatar = false }: { address: string; name?: string; avatarUrl?: string; avatar?: boolean }) {
  const shown = name || address.split('@')[0]!;
  return (
    <Link to={personPath(address)} className="person">
      {avatar && <Avatar name={shown} url={avatarUrl} size={36} />}
      <span className="person-name">{shown}</span> <span className="address">{address}</span>
    </Link>
  );
}

/** "3 min", "2 h", "5 d" for recent times, a date for older ones; the exact time on hover. */
export function relativeTime(iso: string, now = Date.now()): string {
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (seconds < 45) return 'now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 24 * 3600) return `${Math.round(seconds / 3600)} h`;
  if (seconds < 7 * 24 * 3600) return `${Math.round(seconds / 86400)} d`;
  const date = new Date(iso);
  return (date.getFullYear() !== new Date(now).getFullYear() ? formats.dayYear : formats.day).format(date);
}

/**
 * One formatter of each kind for the whole app: making one is slow (Chromium loads locale data),
 * and a feed shows dozens of times.
 */
const formats = {
  get full() {
    const value = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    Object.defineProperty(this, 'full', { value });
    return value;
  },
  get day() {
    const value = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
    Object.defineProperty(this, 'day', { value });
    return value;
  },
  get dayYear() {
    const value = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
    Object.defineProperty(this, 'dayYear', { value });
    return value;
  },
};

export function Time({ iso, exact = false }: { iso: string; exact?: boolean }) {
  // Re-render once a minute, so "now" becomes "1 min".
  const [, tick] = useState(0);
  useEffect(() => {
    if (exact) return;
    const timer = setInterval(() => tick((t) => t + 1), 60_000);
    return () => clearInterval(timer);
  }, [exact]);
  const full = formats.full.format(new Date(iso));
  return <time dateTime={iso} title={full}>{exact ? full : relativeTime(iso)}</time>;
}

/**
 * Post text is Markdown, rendered with the rules every Hearth site shares (no raw HTML, only
 * http(s)/mailto links, no images): its output is safe to insert, and the page's CSP forbids
 * inline script besides.
 */
export function Text({ text }: { text: string }) {
  return <div className="markdown" onClick={followInAppLink} dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}

/**
 * Mentions and #tags in rendered text: a mention opens the person through my own site (when I am
 * logged in), a tag opens the search; both without a page load. Other links leave as links do.
 */
function followInAppLink(event: React.MouseEvent<HTMLElement>): void {
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  const link = (event.target as HTMLElement).closest('a');
  if (!link) return;
  let to: string | undefined;
  if (link.classList.contains('mention') && link.dataset.address) {
    const address = link.dataset.address;
    if (localName(address) || session.token) to = personPath(address);
  } else if (link.classList.contains('tag')) {
    to = link.getAttribute('href') ?? undefined;
  }
  if (!to || /^https?:/.test(to)) return;
  event.preventDefault();
  navigate(to);
}

/** Messages people can act on, never "ECONNREFUSED" or "request body is not valid". */
export function humanError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  if (code === 'offline') return message;
  if (code === 'unreachable' || /ECONNREFUSED|ETIMEDOUT|ENOTFOUND|fetch failed/i.test(message)) {
    return `${message.replace(/:?\s*(connect )?(ECONNREFUSED|ETIMEDOUT|ENOTFOUND)\S*/gi, '').replace(/fetch failed/i, '').trim()}: that site did not answer. It may be down; try again later.`.replace(/^: /, '');
  }
  if (code === 'invalid_request') {
    // "request body is not valid: text: a post may be at most 5000 characters" → the reason alone.
    const reason = message.split(': ').slice(-1)[0] ?? message;
    return reason.charAt(0).toUpperCase() + reason.slice(1) + (reason.endsWith('.') ? '' : '.');
  }
  if (code === 'unauthorized') return 'Your session has ended: log in again.';
  // A sentence starts with a capital; a file name or an address keeps its own spelling.
  return /^[^\s:]*[.@]/.test(message) ? message : message.charAt(0).toUpperCase() + message.slice(1);
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {humanError(error)}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A titled list of people, each a link, with an optional action (unfollow, unblock). */
export function AddressList(props: { label: string; title?: string; items?: Array<{ address: string; displayName?: string; avatarUrl?: string }>; empty: string; action?: { name: string; run: (address: string) => Promise<void> }; note?: string }) {
  const { label, title, items, empty, action, note } = props;
  return (
    <section aria-label={label}>
      <h2>{title ?? label}</h2>
      {note && <p role="status">{note}</p>}
      {items?.length === 0 && <p className="empty">{empty}</p>}
      <ul className="people">
        {items?.map(({ address, displayName, avatarUrl }) => (
          <li key={address}>
            <PersonLink address={address} name={displayName} avatarUrl={avatarUrl} avatar />{' '}
            {action && (
              <button type="button" className="small secondary" onClick={() => void action.run(address)} aria-label={`${action.name} ${address}`}>
                {action.name}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
