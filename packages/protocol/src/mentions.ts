import { formatAddress, parseAddress } from './address.js';

/**
 * `@name@host[:port]` in a post: who it mentions. The same pattern drives the links in rendered
 * Markdown and the `mention` envelopes a site sends, so what shows as a mention is what notifies.
 */
export const MENTION_PATTERN = /(^|[^\w@/.:-])@([a-z0-9_]{1,32})@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|\[[0-9a-f:.]+\])(?::(\d{1,5}))?/gi;

/** `#word` (letters, digits, _; at least one letter): a tag, linked to a search for it. */
export const TAG_PATTERN = /(^|[^\p{L}\p{N}_&#/])#([\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*)/gu;

export interface Found {
  /** Where the match (without its leading boundary character) starts and ends in the text. */
  start: number;
  end: number;
  value: string;
}

/** Mentions in order, each with its place in the text and its address as `name@host[:port]`. */
export function scanMentions(text: string): Found[] {
  const found: Found[] = [];
  for (const m of text.matchAll(MENTION_PATTERN)) {
    const start = m.index! + m[1]!.length;
    const raw = `${m[2]}@${m[3]}${m[4] ? `:${m[4]}` : ''}`;
    try {
      found.push({ start, end: start + 1 + raw.length, value: formatAddress(parseAddress(raw.toLowerCase())) });
    } catch {
      /* not an address after all (a port out of range...): plain text */
    }
  }
  return found;
}

/** The distinct addresses a text mentions, in order of first mention. */
export function findMentions(text: string): string[] {
  return [...new Set(scanMentions(text).map((m) => m.value))];
}

export function scanTags(text: string): Found[] {
  return [...text.matchAll(TAG_PATTERN)].map((m) => {
    const start = m.index! + m[1]!.length;
    return { start, end: start + 1 + m[2]!.length, value: m[2]! };
  });
}

/** Where a mention links for someone who is not on my site: the person's own profile page. */
export function profileUrlOf(address: string): string {
  const at = address.indexOf('@');
  const host = address.slice(at + 1);
  // Loopback sites (development, tests) speak plain http; every public site speaks https.
  const scheme = /^(localhost|127\.|\[::1\])/.test(host) ? 'http' : 'https';
  return `${scheme}://${host}/@${address.slice(0, at)}`;
}
