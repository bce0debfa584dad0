import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';
import { profileUrlOf, scanMentions, scanTags, type Found } from './mentions.js';

/**
 * Post and comment text is Markdown (CommonMark). Every site and app renders it with these
 * rules, so a post looks the same everywhere and is safe everywhere:
 *   - raw HTML is never passed through: `<img onerror=...>` shows as text;
 *   - links only to http, https and mailto: `[x](javascript:...)` stays plain text;
 *   - no images from Markdown (a post's pictures are attachments the author's site serves);
 *   - links open as user content: rel="nofollow ugc noopener noreferrer".
 */
const md = new MarkdownIt('commonmark', { html: false, linkify: true, breaks: true });
// Bare URLs become links (linkify-it), but only full http(s) URLs: "example.com" stays text.
md.enable('linkify');
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });
md.disable(['image', 'html_inline', 'html_block']);
const allowedLink = (url: string) => /^(https?:\/\/|mailto:)/i.test(url.trim());
md.validateLink = allowedLink;

// markdown-it still makes a link of an empty destination (`[x]()` becomes <a href="">); any link
// whose href is not allowed is unwrapped here, keeping its text.
md.core.ruler.push('hearth_unwrap_links', (state) => {
  for (const block of state.tokens) {
    if (block.type !== 'inline' || !block.children) continue;
    let unwrapping = false;
    block.children = block.children.filter((token) => {
      if (token.type === 'link_open' && !allowedLink(token.attrGet('href') ?? '')) return !(unwrapping = true);
      if (token.type === 'link_close' && unwrapping) return (unwrapping = false);
      return true;
    });
  }
});

/**
 * `@name@host` mentions link to the person's profile (class "mention", with data-address, which
 * the app routes through the reader's own site); `#tags` link to this site's search for the tag.
 * Text inside links and code is left alone.
 */
md.core.ruler.push('hearth_mentions_and_tags', (state) => {
  for (const block of state.tokens) {
    if (block.type !== 'inline' || !block.children) continue;
    const out: Token[] = [];
    let inLink = 0;
    for (const token of block.children) {
      if (token.type === 'link_open') inLink++;
      if (token.type === 'link_close') inLink--;
      if (token.type !== 'text' || inLink > 0) {
        out.push(token);
        continue;
      }
      const found: Array<Found & { kind: 'mention' | 'tag' }> = [
        ...scanMentions(token.content).map((f) => ({ ...f, kind: 'mention' as const })),
        ...scanTags(token.content).map((f) => ({ ...f, kind: 'tag' as const })),
      ].sort((a, b) => a.start - b.start);
      let at = 0;
      for (const f of found) {
        if (f.start < at) continue; // overlapping: the earlier one wins
        if (f.start > at) out.push(textToken(state, token.content.slice(at, f.start)));
        const open = new state.Token('link_open', 'a', 1);
        if (f.kind === 'mention') {
          open.attrs = [['href', profileUrlOf(f.value)], ['class', 'mention'], ['data-address', f.value]];
        } else {
          open.attrs = [['href', `/search?q=${encodeURIComponent(`#${f.value}`)}`], ['class', 'tag']];
        }
        out.push(open, textToken(state, token.content.slice(f.start, f.end)), new state.Token('link_close', 'a', -1));
        at = f.end;
      }
      if (at === 0) out.push(token);
      else if (at < token.content.length) out.push(textToken(state, token.content.slice(at)));
    }
    block.children = out;
  }
});

function textToken(state: { Token: new (type: string, tag: string, nesting: -1 | 0 | 1) => Token }, content: string): Token {
  const t = new state.Token('text', '', 0);
  t.content = content;
  return t;
}

const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx]!.attrSet('rel', 'nofollow ugc noopener noreferrer');
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/** Markdown to HTML under the rules above. The output is safe to insert into a page. */
export function renderMarkdown(text: string): string {
  return md.render(text);
}

/**
 * The words of a Markdown text without its marks, for places that show plain text: page titles,
 * feed titles, notification excerpts. "**Tea** at [four](https://x)" becomes "Tea at four".
 */
export function markdownToPlainText(text: string): string {
  const words: string[] = [];
  for (const block of md.parse(text, {})) {
    if (block.type === 'inline') {
      for (const token of block.children ?? []) {
        if (token.type === 'text' || token.type === 'code_inline') words.push(token.content);
        else if (token.type === 'softbreak' || token.type === 'hardbreak') words.push(' ');
      }
    } else if (block.type === 'code_block' || block.type === 'fence') {
      words.push(block.content);
    }
    if (block.type.endsWith('_close') && block.block) words.push(' ');
  }
  return words.join('').replace(/\s+/g, ' ').trim();
}
