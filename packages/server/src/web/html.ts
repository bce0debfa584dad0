import { markdownToPlainText } from '@hearth/protocol/markdown';
/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Escapes text for XML (Atom): the same five entities, and drops characters XML 1.0 forbids. */
export function escapeXml(text: string): string {
  // eslint-disable-next-line no-control-regex
  return escapeHtml(text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, ''));
}

/** A short single-line summary: page titles, Atom entry titles, link-preview descriptions. */
/** One line of at most `max` characters from Markdown text: its words, without its marks. */
export function summarize(text: string, max = 80): string {
  const line = markdownToPlainText(text);
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`;
}
