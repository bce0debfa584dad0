import { escapeHtml, escapeXml, summarize, type Markdown } from './html.js';
import type { PublicPost, PublicProfile } from './public-pages.js';

/**
 * A post as HTML for feed readers: its Markdown rendered under the shared safe rules, its images
 * with their descriptions, and its content warning first.
 */
export function postHtml(post: PublicPost, markdown: Markdown): string {
  const warning = post.contentWarning ? `<p><strong>Content warning: ${escapeHtml(post.contentWarning)}</strong></p>` : '';
  const images = (post.attachments ?? []).map((a) => `<p><img src="${escapeHtml(a.url)}" alt="${escapeHtml(a.alt)}" width="${a.width}" height="${a.height}"></p>`).join('');
  return `${warning}${markdown.html(post.text)}${images}`;
}

/** Atom (RFC 4287) of a person's latest public posts, each with its text and images as HTML. */
export function renderAtom(profile: PublicProfile, posts: PublicPost[], base: string, markdown: Markdown): string {
  const self = `${base}/@${profile.username}/feed.atom`;
  const home = `${base}/@${profile.username}`;
  const updated = posts[0]?.createdAt ?? new Date(0).toISOString();
  const entries = posts
    .map(
      (post) => `  <entry>
    <id>${escapeXml(post.url)}</id>
    <title type="text">${escapeXml(summarize(markdown, post.text, 80))}</title>
    <link rel="alternate" type="text/html" href="${escapeXml(post.url)}"/>
    <published>${post.createdAt}</published>
    <updated>${post.editedAt ?? post.createdAt}</updated>
    <content type="html">${escapeXml(postHtml(post, markdown))}</content>
  </entry>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>${escapeXml(home)}</id>
  <title type="text">${escapeXml(profile.displayName)}</title>
  <subtitle type="text">${escapeXml(profile.bio || `${profile.displayName}'s posts on Hearth`)}</subtitle>
  <updated>${updated}</updated>
  <link rel="self" type="application/atom+xml" href="${escapeXml(self)}"/>
  <link rel="alternate" type="text/html" href="${escapeXml(home)}"/>
  <author><name>${escapeXml(profile.displayName)}</name><uri>${escapeXml(home)}</uri></author>
  <generator uri="${escapeXml(base)}/.well-known/hearth">Hearth</generator>
${entries}
</feed>
`;
}

/** JSON Feed 1.1 of the same posts. */
export function renderJsonFeed(profile: PublicProfile, posts: PublicPost[], base: string, markdown: Markdown): object {
  const home = `${base}/@${profile.username}`;
  return {
    version: 'https://jsonfeed.org/version/1.1',
    title: profile.displayName,
    home_page_url: home,
    feed_url: `${home}/feed.json`,
    description: profile.bio || `${profile.displayName}'s posts on Hearth`,
    authors: [{ name: profile.displayName, url: home, ...(profile.avatarUrl ? { avatar: profile.avatarUrl } : {}) }],
    language: 'en',
    items: posts.map((post) => ({
      id: post.url,
      url: post.url,
      title: summarize(markdown, post.text, 80),
      content_html: postHtml(post, markdown),
      content_text: post.text,
      ...(post.attachments?.[0] ? { image: post.attachments[0].url } : {}),
      date_published: post.createdAt,
      ...(post.editedAt ? { date_modified: post.editedAt } : {}),
    })),
  };
}
