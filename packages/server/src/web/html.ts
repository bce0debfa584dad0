/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Escapes text for XML (Atom): the same five entities, and drops characters XML 1.0 forbids. */
export function escapeXml(text: string): string {
  // eslint-disable-next-line no-control-regex
  return escapeHtml(text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, ''));
}

/**
 * Markdown as HTML (under the shared safe rules) and as plain words. The module behind it
 * (@hearth/protocol/markdown) loads with the first page or feed: an idle site never needs its
 * ~10 MB of parser and entity tables, so nothing here imports it.
 */
export interface Markdown {
  html(text: string): string;
  plain(text: string): string;
}

/** A short single-line summary (page titles, Atom entry titles, link-preview descriptions): at most `max` characters of the text's words, without its marks. */
export function summarize(markdown: Markdown, text: string, max = 80): string {
  const line = markdown.plain(text);
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`;
}
