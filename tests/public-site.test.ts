import { parseAtomFeed, parseFeed, parseJsonFeed } from 'feedsmith';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteProcess } from './helpers/sites.js';

/** The public website and its feeds, as a visitor, a link-preview bot and a feed reader see them. */
describe('public site and feeds', () => {
  let site: SiteProcess;
  const hostile = 'Hello <img src=x onerror=alert(1)> & [x](javascript:alert(1)) "quoted" \u0007bell';
  let postId: string;

  beforeAll(async () => {
    site = await SiteProcess.create(['bob']);
    await site.api('PATCH', '/api/me/profile', { as: 'bob', body: { displayName: 'Bob <b>Builder</b>', bio: 'I build <things>.' } });
    for (let i = 0; i < 3; i++) await site.api('POST', '/api/posts', { as: 'bob', body: { text: `Post number ${i}\n\nSecond paragraph.` } });
    postId = (await site.api('POST', '/api/posts', { as: 'bob', body: { text: hostile } })).body.id;
  });
  afterAll(async () => site?.destroy());

  const page = async (path: string) => {
    const res = await fetch(`${site.url}${path}`);
    return { status: res.status, type: res.headers.get('content-type'), csp: res.headers.get('content-security-policy'), text: await res.text() };
  };

  it('a profile page has a real title, Open Graph tags, feed links and the posts, without JavaScript', async () => {
    const res = await page('/@bob');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/html/);
    expect(res.text).toContain(`<title>Bob &lt;b&gt;Builder&lt;/b&gt; (${site.address('bob')})</title>`);
    expect(res.text).toContain(`<meta property="og:url" content="${site.url}/@bob">`);
    expect(res.text).toContain('<meta property="og:description" content="I build &lt;things&gt;.">');
    expect(res.text).toContain(`type="application/atom+xml" title="Atom" href="${site.url}/@bob/feed.atom"`);
    expect(res.text).toContain('<p>Post number 2</p>\n<p>Second paragraph.</p>');
    expect(res.csp).toMatch(/script-src 'self'/);
  });

  it('one user on the backend: / is that user\'s site', async () => {
    const res = await page('/');
    expect(res.text).toContain('<title>Bob &lt;b&gt;Builder&lt;/b&gt;');
  });

  it('a post page shows the post and its comments, with the post as the preview', async () => {
    await site.api('POST', '/api/comments', { as: 'bob', body: { post: { author: site.address('bob'), id: postId }, text: 'a <script>comment</script>' } });
    const { waitFor } = await import('./helpers/sites.js');
    const res = await waitFor('the comment on the page', async () => {
      const r = await page(`/@bob/${postId}`);
      return r.text.includes('a &lt;script&gt;comment&lt;/script&gt;') ? r : undefined;
    });
    expect(res.text).toContain('<meta property="og:type" content="article">');
    expect(res.text).toMatch(/<title>Bob &lt;b&gt;Builder&lt;\/b&gt;: &quot;Hello &lt;img src=x onerror=alert\(1\)&gt;/);
  });

  it('user text never becomes markup', async () => {
    const res = await page(`/@bob/${postId}`);
    expect(res.text).not.toContain('<img src=x');
    expect(res.text).not.toContain('<script>comment');
    expect(res.text).not.toMatch(/href="javascript:/i);
    expect(res.text).toContain('Hello &lt;img src=x onerror=alert(1)&gt; &amp; [x](javascript:alert(1)) &quot;quoted&quot;');
  });

  it('unknown people and posts get a clear 404 page', async () => {
    expect((await page('/@nobody')).status).toBe(404);
    expect((await page('/@bob/no-such-post')).status).toBe(404);
    expect((await page('/@Bad!Name')).status).toBe(404);
  });

  it('the Atom feed parses with a real feed parser and carries the post as safe HTML', async () => {
    const res = await fetch(`${site.url}/@bob/feed.atom`);
    expect(res.headers.get('content-type')).toMatch(/^application\/atom\+xml/);
    const xml = await res.text();
    expect(parseFeed(xml).format).toBe('atom');
    const feed = parseAtomFeed(xml) as any;
    expect(feed.title).toEqual({ value: 'Bob <b>Builder</b>', type: 'text' });
    expect(feed.entries).toHaveLength(4);
    // The post comes as HTML rendered under the shared Markdown rules: the markup in it is text,
    // the javascript: link is not a link (XML cannot carry the BEL control character: dropped).
    const content = feed.entries[0].content;
    expect(content.type).toBe('html');
    expect(content.value).toContain('Hello &lt;img src=x onerror=alert(1)&gt;');
    expect(content.value).not.toMatch(/<img|href="javascript|\u0007/i);
    expect(feed.entries[0].links[0].href).toBe(`${site.url}/@bob/${postId}`);
    expect(feed.entries[3].content.value.trim()).toBe('<p>Post number 0</p>\n<p>Second paragraph.</p>');
  });

  it('the JSON Feed parses with a real feed parser', async () => {
    const res = await fetch(`${site.url}/@bob/feed.json`);
    expect(res.headers.get('content-type')).toMatch(/^application\/feed\+json/);
    const json = await res.json();
    expect(parseFeed(json).format).toBe('json');
    const feed = parseJsonFeed(json) as any;
    expect(feed.title).toBe('Bob <b>Builder</b>');
    expect(feed.items).toHaveLength(4);
    expect(feed.items[0].content_text).toBe(hostile);
    expect(feed.items[0].content_html).toContain('Hello &lt;img src=x onerror=alert(1)&gt;');
    expect(feed.items[0].url).toBe(`${site.url}/@bob/${postId}`);
  });
});
