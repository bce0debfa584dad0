import type { CommentView, PostView, Profile } from '@hearth/protocol';
import { escapeHtml, summarize, type Markdown } from './html.js';

/**
 * Server-rendered public pages. They carry real titles and Open Graph tags, so link previews
 * work without JavaScript, and the page's content itself, so a visitor sees it at first paint;
 * the single-page app takes over the same URL when its script has loaded.
 */
// The shapes these pages show are the API contract's (@hearth/protocol/api), so a page and the
// JSON of the same URL cannot drift apart.
export type PublicProfile = Pick<Profile, 'username' | 'address' | 'displayName' | 'bio' | 'avatarUrl'>;
export type PublicPost = Pick<PostView, 'id' | 'text' | 'createdAt' | 'attachments' | 'contentWarning' | 'editedAt'> & { url: string; likeCount: number; commentCount: number };

function images(post: PublicPost): string {
  return (post.attachments ?? [])
    .filter((a) => /^https?:\/\//.test(a.url))
    .map((a) => `<img class="attachment" src="${escapeHtml(a.url)}" alt="${escapeHtml(a.alt)}" width="${a.width}" height="${a.height}" loading="lazy">`)
    .join('');
}

export type PublicComment = Pick<CommentView, 'id' | 'author' | 'text' | 'createdAt'>;

export interface PageHead {
  title: string;
  description: string;
  url: string;
  type: 'profile' | 'article' | 'website';
  image?: string;
  feeds?: { atom: string; json: string };
}

export function renderHead(head: PageHead): string {
  const meta = [
    `<title>${escapeHtml(head.title)}</title>`,
    `<meta name="description" content="${escapeHtml(head.description)}">`,
    `<meta property="og:title" content="${escapeHtml(head.title)}">`,
    `<meta property="og:description" content="${escapeHtml(head.description)}">`,
    `<meta property="og:url" content="${escapeHtml(head.url)}">`,
    `<meta property="og:type" content="${head.type}">`,
    `<meta property="og:site_name" content="Hearth">`,
    `<link rel="canonical" href="${escapeHtml(head.url)}">`,
  ];
  if (head.image) meta.push(`<meta property="og:image" content="${escapeHtml(head.image)}">`);
  if (head.feeds) {
    meta.push(`<link rel="alternate" type="application/atom+xml" title="Atom" href="${escapeHtml(head.feeds.atom)}">`);
    meta.push(`<link rel="alternate" type="application/feed+json" title="JSON Feed" href="${escapeHtml(head.feeds.json)}">`);
  }
  return meta.join('\n    ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function time(iso: string): string {
  const date = new Date(iso);
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(date.toUTCString().replace(/ GMT$/, ' UTC'))}</time>`;
}

function profileHeader(profile: PublicProfile, markdown: Markdown): string {
  const avatar = profile.avatarUrl ? `<img class="avatar" src="${escapeHtml(profile.avatarUrl)}" alt="" width="64" height="64">` : '';
  return `<header class="profile">${avatar}<div><h1>${escapeHtml(profile.displayName)}</h1><p class="address">${escapeHtml(profile.address)}</p>${
    profile.bio ? `<div class="bio">${markdown.html(profile.bio)}</div>` : ''
  }</div></header>`;
}

/** A post's text, behind its content warning when it has one (a disclosure that needs no script). */
function postText(post: PublicPost, markdown: Markdown): string {
  const text = `<div class="post-text">${markdown.html(post.text)}</div>`;
  if (!post.contentWarning) return text;
  return `<details class="content-warning"><summary><span class="cw-label">Content warning:</span> ${escapeHtml(post.contentWarning)} <span class="hint">(show)</span></summary>${text}</details>`;
}

/** Post text is Markdown: `markdown` renders it under the shared safe rules (@hearth/protocol/markdown). */
export function renderProfileBody(profile: PublicProfile, posts: PublicPost[], base: string, markdown: Markdown): string {
  const items = posts
    .map(
      (post) =>
        `<article class="post">${postText(post, markdown)}${images(post)}<footer><a href="${escapeHtml(`${base}/@${profile.username}/${post.id}`)}">${time(post.createdAt)}</a> · ${plural(post.likeCount, 'like')} · ${plural(post.commentCount, 'comment')}</footer></article>`,
    )
    .join('');
  return `<main class="public">${profileHeader(profile, markdown)}<section aria-label="Posts">${items || '<p class="empty">No posts yet.</p>'}</section></main>`;
}

export function renderPostBody(profile: PublicProfile, post: PublicPost, comments: PublicComment[], base: string, markdown: Markdown): string {
  const list = comments
    .map((c) => `<li class="comment"><p class="comment-author">${escapeHtml(c.author)} · ${time(c.createdAt)}</p>${markdown.html(c.text)}</li>`)
    .join('');
  return `<main class="public">${profileHeader(profile, markdown)}<article class="post single">${postText(post, markdown)}${images(post)}<footer>${time(post.createdAt)} · ${plural(post.likeCount, 'like')}</footer></article><section aria-label="Comments"><h2>Comments</h2>${
    list ? `<ul class="comments">${list}</ul>` : '<p class="empty">No comments yet.</p>'
  }</section><p><a href="${escapeHtml(`${base}/@${profile.username}`)}">More from ${escapeHtml(profile.displayName)}</a></p></main>`;
}

export function profileHead(profile: PublicProfile, base: string, markdown: Markdown): PageHead {
  return {
    title: `${profile.displayName} (${profile.address})`,
    description: profile.bio ? summarize(markdown, profile.bio, 200) : `${profile.displayName}'s site on Hearth`,
    url: `${base}/@${profile.username}`,
    type: 'profile',
    image: profile.avatarUrl || undefined,
    feeds: { atom: `${base}/@${profile.username}/feed.atom`, json: `${base}/@${profile.username}/feed.json` },
  };
}

export function postHead(profile: PublicProfile, post: PublicPost, base: string, markdown: Markdown): PageHead {
  return {
    title: `${profile.displayName}: "${summarize(markdown, post.text, 60)}"`,
    description: summarize(markdown, post.text, 200),
    url: post.url,
    type: 'article',
    image: profile.avatarUrl || undefined,
    feeds: { atom: `${base}/@${profile.username}/feed.atom`, json: `${base}/@${profile.username}/feed.json` },
  };
}

/** The built app's index.html with this page's head and body put in; or a plain page without the app. */
export function renderDocument(template: string | undefined, head: string, body: string): string {
  if (!template) {
    return `<!doctype html>\n<html lang="en">\n  <head>\n    <meta charset="utf-8">\n    <meta name="viewport" content="width=device-width, initial-scale=1">\n    ${head}\n  </head>\n  <body>\n    <div id="root">${body}</div>\n  </body>\n</html>\n`;
  }
  return template.replace(/<title>[^<]*<\/title>/, head).replace('<div id="root"></div>', `<div id="root">${body}</div>`);
}
