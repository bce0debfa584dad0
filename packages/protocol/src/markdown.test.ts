import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown.js';

describe('markdown rendering', () => {
  it('renders ordinary Markdown', () => {
    expect(renderMarkdown('**bold** and _it_\n\n- one\n- two')).toBe('<p><strong>bold</strong> and <em>it</em></p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n');
    expect(renderMarkdown('[site](https://example.com)')).toBe('<p><a href="https://example.com" rel="nofollow ugc noopener noreferrer">site</a></p>\n');
  });

  it.each([
    ['<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert(1)&gt;'],
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    ['[x](javascript:alert(1))', '[x](javascript:alert(1))'],
    ['[x](JAVASCRIPT:alert(1))', '[x](JAVASCRIPT:alert(1))'],
    ['[x](data:text/html;base64,PHNjcmlwdD4=)', '[x](data:text/html;base64,PHNjcmlwdD4=)'],
    ['![x](https://tracker.example/pixel.png)', '!<a href="https://tracker.example/pixel.png"'],
    ['<a href="javascript:alert(1)">x</a>', '&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;'],
    ['[empty]()', '<p>empty</p>'], // found by the property test below: markdown-it made <a href="">
    ['[rel](/relative/path)', '<p>[rel](/relative/path)</p>'],
  ])('neutralizes %s', (input, shown) => {
    const html = renderMarkdown(input);
    expect(html).toContain(shown);
    expect(html).not.toMatch(/<(img|script|iframe)|href="(javascript|data):|<[^>]+\son\w+=/i);
  });

  it('never emits a tag outside a small safe set, an event handler or a non-http link, whatever the input', () => {
    const allowed = new Set(['p', 'em', 'strong', 'a', 'ul', 'ol', 'li', 'code', 'pre', 'blockquote', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'br']);
    const pieces = fc.constantFrom('<', '>', '"', "'", '[', ']', '(', ')', '`', '*', '_', '#', '!', '\n', 'javascript:', 'onerror=', 'https://a.b', 'img', 'script', '<svg onload=x>', ' ', 'x');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 40 }), (parts) => {
        const html = renderMarkdown(parts.join(''));
        for (const [, tag] of html.matchAll(/<\/?([a-zA-Z0-9]+)/g)) expect(allowed.has(tag!.toLowerCase())).toBe(true);
        for (const [, href] of html.matchAll(/href="([^"]*)"/g)) expect(href).toMatch(/^(https?:\/\/|mailto:)/i);
        expect(html).not.toMatch(/<[^>]+\son\w+=/i);
      }),
      { numRuns: 5000 },
    );
  });
});
