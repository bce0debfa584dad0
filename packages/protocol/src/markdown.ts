import MarkdownIt from 'markdown-it';

/**
 * Post and comment text is Markdown (CommonMark). Every site and app renders it with these
 * rules, so a post looks the same everywhere and is safe everywhere:
 *   - raw HTML is never passed through: `<img onerror=...>` shows as text;
 *   - links only to http, https and mailto: `[x](javascript:...)` stays plain text;
 *   - no images from Markdown (a post's pictures are attachments the author's site serves);
 *   - links open as user content: rel="nofollow ugc noopener noreferrer".
 */
const md = new MarkdownIt('commonmark', { html: false, linkify: false, breaks: true });
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

const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx]!.attrSet('rel', 'nofollow ugc noopener noreferrer');
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/** Markdown to HTML under the rules above. The output is safe to insert into a page. */
export function renderMarkdown(text: string): string {
  return md.render(text);
}
