import type { ReactNode } from 'react';
import { renderMarkdown } from '@hearth/protocol/markdown';
import { navigate } from './router';

/** An in-app link: a real <a href> (works with keyboard, middle-click, no JS), routed without reload. */
export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  return (
    <a
      href={to}
      className={className}
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

export function Time({ iso }: { iso: string }) {
  const date = new Date(iso);
  return <time dateTime={iso}>{date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}</time>;
}

/**
 * Post text is Markdown, rendered with the rules every Hearth site shares (no raw HTML, only
 * http(s)/mailto links, no images): its output is safe to insert, and the page's CSP forbids
 * inline script besides.
 */
export function Text({ text }: { text: string }) {
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error instanceof Error ? error.message : String(error)}
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

/** Only http(s) images: a javascript: or data: URL never reaches an <img>. */
export function safeImageUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}
