import { contractRoute } from '../http-contract.js';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Context } from '../context.js';
import { getPublicPost, listPublicPosts } from '../storage/public-content.js';
import { findUser, listUsernames, localAddressText } from '../storage/users.js';
import type { UsersTable } from '../storage/schema.js';
import { renderAtom, renderJsonFeed } from '../web/feeds.js';
import { escapeHtml, type Markdown } from '../web/html.js';
import { postHead, profileHead, renderDocument, renderHead, renderPostBody, renderProfileBody, type PublicProfile } from '../web/public-pages.js';

const FEED_SIZE = 50;
const PAGE_SIZE = 50;

/**
 * The public website: `/` (the only user's site, or a list of the people here), `/@name`,
 * `/@name/postId`, and `/@name/feed.atom` / `feed.json`. Pages are rendered here, so they are
 * complete without JavaScript; when the web app is built, its index.html is the template.
 */
export const publicSiteRoutes = (ctx: Context): FastifyPluginAsync => async (app) => {
  // Read per request: in a hosting service one app serves many sites (ctx is the request's site).
  const base = () => ctx.config.origin;
  const where = () => ({ site: ctx.site, origin: ctx.config.origin });
  let template: ReturnType<typeof loadTemplate> | undefined;
  const templateOf = () => (template ??= loadTemplate(ctx.webDir));

  const profileOf = (user: UsersTable): PublicProfile => ({
    username: user.username,
    address: localAddressText(ctx.site, user.username),
    displayName: user.display_name,
    bio: user.bio,
    avatarUrl: user.avatar_url,
  });

  const html = (reply: FastifyReply, status: number, head: string, body: string) =>
    reply
      .status(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .send(renderDocument(templateOf(), head, body));

  const notFoundPage = (reply: FastifyReply, what: string) =>
    html(reply, 404, renderHead({ title: 'Not found', description: what, url: base(), type: 'website' }), `<main class="public"><h1>Not found</h1><p>${escapeHtml(what)}</p></main>`);

  const userOrNull = async (name: string) => (/^[a-z0-9_]{1,32}$/.test(name) ? ((await findUser(ctx.db, name)) ?? null) : null);

  // The Markdown renderer loads with the first page: an idle site never needs it.
  let markdownLoad: Promise<Markdown> | undefined;
  const renderer = () => (markdownLoad ??= import('@hearth/protocol/markdown').then((m) => ({ html: m.renderMarkdown, plain: m.markdownToPlainText })));

  const profilePage = async (reply: FastifyReply, user: UsersTable) => {
    const profile = profileOf(user);
    const { items } = await listPublicPosts(ctx.db, where(), user.username, { limit: PAGE_SIZE });
    const markdown = await renderer();
    return html(reply, 200, renderHead(profileHead(profile, base(), markdown)), renderProfileBody(profile, items, base(), markdown));
  };

  /** Who lives here: for the app's front page. */
  contractRoute(app, 'siteInfo', async () => ({ site: ctx.site, origin: base(), users: await listUsernames(ctx.db) }));

  // The app's own pages: the app renders them; the server sends the page shell.
  // Also each other person's page and post as I see them through my site (/people/ADDRESS[/POST]).
  for (const route of ['/login', '/home', '/setup', '/settings', '/messages', '/notifications', '/search', '/people/:address', '/people/:address/:post']) {
    app.get(route, async (request, reply) =>
      html(reply, 200, renderHead({ title: 'Hearth', description: 'Your own corner of the web.', url: `${base()}${request.url.split('?')[0]}`, type: 'website' }), ''),
    );
  }

  /** The site's icon (the browser tab, and the app icon when installed). */
  app.get('/icon.svg', async (_request, reply) => {
    const icon = ctx.webDir ? await fs.promises.readFile(path.join(ctx.webDir, 'icon.svg')).catch(() => undefined) : undefined;
    if (!icon) return notFoundPage(reply, 'No such file.');
    return reply.header('content-type', 'image/svg+xml').header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff').send(icon);
  });

  /** The web app manifest: the site installs as an app named after its owner, opening at Home. */
  app.get('/manifest.webmanifest', async (_request, reply) => {
    const names = await listUsernames(ctx.db);
    const owner = names.length === 1 ? await findUser(ctx.db, names[0]!) : undefined;
    const name = owner ? `${owner.display_name} · Hearth` : `Hearth at ${ctx.site.host}`;
    return reply
      .header('content-type', 'application/manifest+json; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(
        JSON.stringify({
          name,
          short_name: owner ? owner.display_name.slice(0, 12) : 'Hearth',
          description: 'Your own corner of the web.',
          start_url: '/home',
          scope: '/',
          display: 'standalone',
          background_color: '#fbf8f3',
          theme_color: '#b4461e',
          icons: [{ src: '/icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any maskable' }],
        }),
      );
  });

  /** The built app's files. Names are content-hashed, so they are cached for good. */
  app.get('/assets/:file', async (request, reply) => {
    const file = (request.params as { file: string }).file;
    const type = ASSET_TYPES[path.extname(file)];
    if (!ctx.webDir || !type || !/^[A-Za-z0-9._-]{1,100}$/.test(file)) return notFoundPage(reply, 'No such file.');
    let content: Buffer;
    try {
      content = await fs.promises.readFile(path.join(ctx.webDir, 'assets', file));
    } catch {
      return notFoundPage(reply, 'No such file.');
    }
    return reply.header('content-type', type).header('cache-control', 'public, max-age=31536000, immutable').header('x-content-type-options', 'nosniff').send(content);
  });

  app.get('/', async (_request, reply) => {
    const names = await listUsernames(ctx.db);
    if (names.length === 1) return profilePage(reply, (await findUser(ctx.db, names[0]!))!);
    const list = names.map((n) => `<li><a href="/@${n}">${escapeHtml(localAddressText(ctx.site, n))}</a></li>`).join('');
    const body = `<main class="public"><h1>Hearth at ${escapeHtml(ctx.site.host)}</h1>${names.length ? `<ul class="people">${list}</ul>` : '<p>This site is not set up yet. Its owner finishes setup with the link that <code>hearth start</code> printed.</p>'}</main>`;
    return html(reply, 200, renderHead({ title: `Hearth at ${ctx.site.host}`, description: 'Personal sites that talk to each other.', url: base(), type: 'website' }), body);
  });

  app.get('/@:name', async (request, reply) => {
    const user = await userOrNull((request.params as { name: string }).name);
    if (!user) return notFoundPage(reply, 'There is no one by that name here.');
    return profilePage(reply, user);
  });

  app.get('/@:name/:rest', async (request, reply) => {
    const { name, rest } = request.params as { name: string; rest: string };
    const user = await userOrNull(name);
    if (!user) return notFoundPage(reply, 'There is no one by that name here.');
    const profile = profileOf(user);
    if (rest === 'feed.atom' || rest === 'feed.json') {
      const { items } = await listPublicPosts(ctx.db, where(), user.username, { limit: FEED_SIZE });
      void reply.header('cache-control', 'public, max-age=300').header('access-control-allow-origin', '*');
      if (rest === 'feed.atom') return reply.header('content-type', 'application/atom+xml; charset=utf-8').send(renderAtom(profile, items, base(), await renderer()));
      return reply.header('content-type', 'application/feed+json; charset=utf-8').send(JSON.stringify(renderJsonFeed(profile, items, base(), await renderer())));
    }
    const post = /^[A-Za-z0-9_-]{1,64}$/.test(rest) ? await getPublicPost(ctx.db, where(), user.username, rest) : undefined;
    if (!post) return notFoundPage(reply, 'This post does not exist, or was deleted.');
    const markdown = await renderer();
    return html(reply, 200, renderHead(postHead(profile, post, base(), markdown)), renderPostBody(profile, post, post.comments, base(), markdown));
  });
};

const ASSET_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * Scripts only from this site, no inline script, no plugins, no framing: even if some text
 * escaped its escaping, it could not run. Images may come from anywhere (avatars are URLs).
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src * data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/**
 * The built app's index.html, with its stylesheet inlined: it is small (about 1 KB gzip), and a
 * separate render-blocking request for it is most of what a first paint waits for.
 */
function loadTemplate(webDir: string | undefined): string | undefined {
  if (!webDir) return undefined;
  let html: string;
  try {
    html = fs.readFileSync(path.join(webDir, 'index.html'), 'utf8');
  } catch {
    return undefined;
  }
  return html.replace(/<link rel="stylesheet"(?: crossorigin)? href="\/(assets\/[A-Za-z0-9._-]+\.css)">/g, (tag, file: string) => {
    try {
      return `<style>${fs.readFileSync(path.join(webDir, file), 'utf8').replace(/<\/style/gi, '<\\/style')}</style>`;
    } catch {
      return tag;
    }
  });
}
