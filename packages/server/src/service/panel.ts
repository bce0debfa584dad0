import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { HearthError } from '@hearth/protocol';
import type { Logger } from 'pino';
import { verifyPassword } from '../auth/passwords.js';
import { backupSite, listBackups, restoreSite } from './backup.js';
import { showDomain } from './domains.js';
import { isLoopbackIp } from '../http-helpers.js';
import { siteStorageBytes } from '../quotas.js';
import { escapeHtml as esc } from '../web/html.js';
import type { SiteRegistry } from './registry.js';
import { addServiceSite } from './service.js';
import { serviceSiteDir, serviceSiteUrl, type ServiceConfig } from './service-config.js';

const SESSION_MS = 8 * 60 * 60 * 1000;
/** New sites one address may make on the public signup page in an hour. */
const SIGNUPS_PER_HOUR = 3;
const FORM_BYTES = 16 * 1024;
const COOKIE = 'hearth_panel';

/**
 * The vendor's panel and the public signup page (issue 12), served on the service's own host name
 * (service.json `panel.host`). Plain pages with forms: they work without JavaScript, and every
 * action is one POST answered by a redirect. The panel has its own login (`hearth service admin`),
 * a session cookie that is HttpOnly, SameSite=Strict (and Secure over https), and every POST must
 * come from the panel's own origin.
 */
export class Panel {
  private readonly sessions = new Map<string, number>();
  private readonly failures = new Map<string, { count: number; until: number }>();
  private readonly signups = new Map<string, number[]>();

  constructor(
    private readonly config: ServiceConfig,
    private readonly registry: SiteRegistry,
    private readonly log: Logger,
    /** Requests served per site since the start (read only for the sites page). */
    private readonly traffic: () => Promise<Map<string, number>>,
  ) {}

  get host(): string | undefined {
    return this.config.panel?.host;
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://panel');
    const route = `${req.method} ${url.pathname}`;
    try {
      if (req.method === 'POST' && !this.sameOrigin(req)) return this.page(res, 403, 'Not allowed', '<p>This form was sent from another site, so it was not accepted.</p>');
      if (route === 'GET /signup' || route === 'POST /signup') return await this.signup(req, res, url);
      if (route === 'GET /login') return this.loginPage(res, 200);
      if (route === 'POST /login') return await this.login(req, res);
      if (!this.signedIn(req)) return redirect(res, '/login');
      if (route === 'POST /logout') {
        this.sessions.delete(cookieOf(req) ?? '');
        res.setHeader('set-cookie', `${COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`);
        return redirect(res, '/login');
      }
      if (route === 'GET /') return await this.sitesPage(res, 200, url.searchParams.get('done') ?? undefined);
      if (route === 'POST /sites') return await this.createSite(req, res);
      const limits = /^(GET|POST) \/sites\/([^/]+)\/limits$/.exec(route);
      if (limits) return await this.limits(req, res, decodeURIComponent(limits[2]!));
      const action = /^POST \/sites\/([^/]+)\/(suspend|resume|delete|backup|restore)$/.exec(route);
      if (action) return await this.siteAction(res, decodeURIComponent(action[1]!), action[2]!, await readForm(req));
      return this.page(res, 404, 'Not found', '<p>There is no such page in the panel. <a href="/">Back to the sites</a>.</p>');
    } catch (error) {
      this.log.error({ err: error }, 'panel request failed');
      return this.page(res, 500, 'Something went wrong', '<p>The panel could not do that; the log says why. <a href="/">Back to the sites</a>.</p>');
    }
  }

  // ---- sign-in ---------------------------------------------------------------------------

  private sameOrigin(req: http.IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true; // a browser sends Origin on cross-site POSTs; the cookie is SameSite=Strict besides
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }

  private signedIn(req: http.IncomingMessage): boolean {
    const token = cookieOf(req);
    const until = token ? this.sessions.get(token) : undefined;
    return until !== undefined && until >= Date.now();
  }

  private loginPage(res: http.ServerResponse, status: number, error?: string, username = ''): void {
    const admin = this.config.panel?.admin;
    const body = admin
      ? `<form method="post" action="/login" class="card narrow">
  ${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
  <label for="username">Username</label><input id="username" name="username" autocomplete="username" value="${esc(username)}" required>
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>`
      : '<p class="card narrow">The panel has no administrator yet. On the server, run <code>hearth service admin --data DIR --user NAME</code>.</p>';
    this.page(res, status, 'Sign in to the hosting panel', body);
  }

  private async login(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const form = await readForm(req);
    const key = req.socket.remoteAddress ?? '';
    const failed = this.failures.get(key);
    if (failed && failed.until > Date.now()) return this.loginPage(res, 429, `Too many attempts: try again in ${Math.ceil((failed.until - Date.now()) / 1000)} s.`, form.get('username') ?? '');
    const admin = this.config.panel?.admin;
    const ok = admin !== undefined && form.get('username') === admin.username && (await verifyPassword(admin.passwordHash, form.get('password') ?? ''));
    if (!ok) {
      const count = (failed?.count ?? 0) + 1;
      this.failures.set(key, { count, until: count >= 5 ? Date.now() + 60_000 : 0 });
      return this.loginPage(res, 401, 'That username and password do not match.', form.get('username') ?? '');
    }
    this.failures.delete(key);
    const token = crypto.randomBytes(32).toString('base64url');
    this.sessions.set(token, Date.now() + SESSION_MS);
    res.setHeader('set-cookie', `${COOKIE}=${token}; Path=/; Max-Age=${SESSION_MS / 1000}; HttpOnly; SameSite=Strict${this.config.dev ? '' : '; Secure'}`);
    redirect(res, '/');
  }

  // ---- sites -----------------------------------------------------------------------------

  private async sitesPage(res: http.ServerResponse, status: number, done?: string, form?: { error: string; domain: string; username: string }): Promise<void> {
    const sites = this.registry.list();
    const traffic = await this.traffic();
    // A site in PostgreSQL holds its data in its schema there, besides its media.
    const schemas = await this.registry.schemaSizes();
    const storage = (domain: string) => {
      const dir = serviceSiteDir(this.config, domain);
      const schema = schemas.size > 0 ? siteSchema(dir) : undefined;
      return siteStorageBytes(dir) + (schema ? (schemas.get(schema) ?? 0) : 0);
    };
    const rows = sites
      .map((site) => {
        const name = showDomain({ ascii: site.domain, unicode: site.unicode });
        const url = serviceSiteUrl(this.config, site.domain);
        const actions =
          site.status === 'deleted'
            ? [listBackups(this.config, site.domain).length > 0 ? button(site.domain, 'restore', 'Restore from the latest backup') : '<span class="muted">no backup to restore</span>']
            : [
                button(site.domain, site.status === 'active' ? 'suspend' : 'resume', site.status === 'active' ? 'Suspend' : 'Resume'),
                `<a class="button" href="/sites/${encodeURIComponent(site.domain)}/limits" aria-label="${esc(`Limits: ${site.domain}`)}">Limits</a>`,
                button(site.domain, 'backup', 'Back up now'),
                button(site.domain, 'delete', 'Delete', 'danger'),
              ];
        return `<tr>
  <th scope="row">${site.status === 'deleted' ? esc(name) : `<a href="${esc(url)}">${esc(name)}</a>`}</th>
  <td><span class="status ${site.status}">${site.status}</span></td>
  <td>${formatBytes(storage(site.domain))}${site.quotas.storageBytes !== undefined ? ` of ${formatBytes(site.quotas.storageBytes)}` : ''}${site.quotas.postsPerHour !== undefined ? `<br><span class="muted">${site.quotas.postsPerHour} posts/hour</span>` : ''}${site.quotas.relayBytesPerDay !== undefined ? `<br><span class="muted">relay ${formatBytes(site.quotas.relayBytesPerDay)}/day</span>` : ''}</td>
  <td>${traffic.get(site.domain) ?? 0}</td>
  <td class="date">${new Date(site.createdAt).toISOString().slice(0, 10)}</td>
  <td class="actions">${actions.join(' ')}</td>
</tr>`;
      })
      .join('\n');
    const table = sites.length
      ? `<table><caption>Sites on this service</caption><thead><tr><th scope="col">Site</th><th scope="col">State</th><th scope="col">Storage</th><th scope="col">Requests</th><th scope="col">Since</th><th scope="col">Actions</th></tr></thead><tbody>${rows}</tbody></table>`
      : '<p>No sites yet: create the first one below.</p>';
    const body = `${done ? `<p class="done" role="status">${esc(done)}</p>` : ''}
${table}
<form method="post" action="/sites" class="card" aria-labelledby="new-site">
  <h2 id="new-site">New site</h2>
  ${form?.error ? `<p class="error" role="alert">${esc(form.error)}</p>` : ''}
  <label for="domain">Domain</label><input id="domain" name="domain" value="${esc(form?.domain ?? '')}" placeholder="alice.example.com" required aria-describedby="domain-help">
  <p id="domain-help" class="help">The site's own domain${this.config.signup?.baseDomain ? `, or a name under ${esc(this.config.signup.baseDomain)}` : ''}. Its DNS must point at this service; its certificate is issued at the first visit.</p>
  <label for="username">First person's username</label><input id="username" name="username" value="${esc(form?.username ?? '')}" autocomplete="off" required>
  <label for="password">Their password</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required>
  <button type="submit">Create site</button>
</form>
<form method="post" action="/logout"><button type="submit" class="link">Sign out</button></form>`;
    this.page(res, status, 'Hosting panel', body);
  }

  private async createSite(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const form = await readForm(req);
    const input = { domain: form.get('domain') ?? '', username: (form.get('username') ?? '').trim().toLowerCase(), password: form.get('password') ?? '' };
    try {
      const made = await addServiceSite(this.config, this.registry, { domain: this.fullDomain(input.domain), username: input.username, password: input.password });
      redirect(res, `/?done=${encodeURIComponent(`Created ${showDomain(made.domain)}: ${made.url}`)}`);
    } catch (error) {
      if (!(error instanceof HearthError) || error.status >= 500) throw error;
      await this.sitesPage(res, error.status, undefined, { error: error.message, domain: input.domain, username: input.username });
    }
  }

  /** A site's quotas: storage, posts per hour, relay volume (empty: no limit). */
  private async limits(req: http.IncomingMessage, res: http.ServerResponse, domain: string): Promise<void> {
    const site = this.registry.get(domain);
    if (!site) return this.page(res, 404, 'No such site', `<p>${esc(domain)} is not a site on this service. <a href="/">Back to the sites</a>.</p>`);
    const MB = 1024 * 1024;
    const fields = [
      { name: 'storage', label: 'Storage (MB)', key: 'storageBytes', scale: MB },
      { name: 'posts', label: 'Posts per hour', key: 'postsPerHour', scale: 1 },
      { name: 'relay', label: 'Relayed for friends per day (MB)', key: 'relayBytesPerDay', scale: MB },
    ] as const;
    const render = (status: number, values: Record<string, string>, error?: string) =>
      this.page(
        res,
        status,
        `Limits of ${domain}`,
        `<form method="post" action="/sites/${encodeURIComponent(domain)}/limits" class="card narrow">
  ${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
  <p class="help">Leave a box empty for no limit. A post or upload past a limit is refused with a clear message; nothing is lost.</p>
  ${fields.map((f) => `<label for="${f.name}">${f.label}</label><input id="${f.name}" name="${f.name}" inputmode="decimal" value="${esc(values[f.name] ?? '')}">`).join('\n  ')}
  <button type="submit">Save limits</button>
  <a href="/">Back to the sites</a>
</form>`,
      );
    const shown = (n: number | undefined, scale: number) => (n === undefined ? '' : String(Number((n / scale).toFixed(2))));
    if (req.method === 'GET') return render(200, Object.fromEntries(fields.map((f) => [f.name, shown(site.quotas[f.key], f.scale)])));
    const form = await readForm(req);
    const values = Object.fromEntries(fields.map((f) => [f.name, (form.get(f.name) ?? '').trim()]));
    const quotas: Record<string, number> = {};
    for (const f of fields) {
      const text = values[f.name]!;
      if (text === '') continue;
      const n = Number(text);
      if (!Number.isFinite(n) || n <= 0) return render(400, values, `${f.label}: type a number above 0, or leave it empty for no limit.`);
      quotas[f.key] = Math.round(n * f.scale);
    }
    await this.registry.setQuotas(domain, quotas);
    redirect(res, `/?done=${encodeURIComponent(`Limits of ${domain} saved; they apply within seconds.`)}`);
  }

  /** A bare name ("dora") is a subdomain of the service's base domain, when it has one. */
  private fullDomain(text: string): string {
    const base = this.config.signup?.baseDomain;
    const trimmed = text.trim().toLowerCase();
    return base && /^[a-z0-9-]+$/.test(trimmed) ? `${trimmed}.${base}` : trimmed;
  }

  private async siteAction(res: http.ServerResponse, domain: string, action: string, form: URLSearchParams): Promise<void> {
    const site = this.registry.get(domain);
    if (!site) return this.page(res, 404, 'No such site', `<p>${esc(domain)} is not a site on this service. <a href="/">Back to the sites</a>.</p>`);
    if (action === 'delete' && form.get('confirm') !== domain) {
      // Deleting takes the site off the web at once: the vendor types its name to say so.
      const mismatch = form.has('confirm');
      return this.page(
        res,
        mismatch ? 400 : 200,
        `Delete ${domain}?`,
        `<form method="post" action="/sites/${encodeURIComponent(domain)}/delete" class="card narrow">
  ${mismatch ? '<p class="error" role="alert">The name you typed is not this site\'s: nothing was deleted.</p>' : ''}
  <p>The site goes offline at once and shows a notice. Its data is kept for ${this.config.deleteGraceDays ?? 30} days, when it can still be restored from a backup; after that it is removed.</p>
  <label for="confirm">Type <strong>${esc(domain)}</strong> to confirm</label><input id="confirm" name="confirm" autocomplete="off" required>
  <button type="submit" class="danger">Delete this site</button>
  <a href="/">Keep it</a>
</form>`,
      );
    }
    let done: string;
    switch (action) {
      case 'suspend':
      case 'resume':
        await this.registry.setStatus(domain, action === 'suspend' ? 'suspended' : 'active', Date.now());
        done = action === 'suspend' ? `${domain} is suspended: it shows a notice and keeps its data.` : `${domain} serves again.`;
        break;
      case 'delete':
        await this.registry.setStatus(domain, 'deleted', Date.now());
        done = `${domain} is deleted. Its data is kept for ${this.config.deleteGraceDays ?? 30} days; restore it from a backup until then.`;
        break;
      case 'backup': {
        const made = await backupSite(this.config, this.registry, domain);
        done = `Backed up ${domain} (${formatBytes(made.bytes)}).`;
        break;
      }
      default: {
        const latest = listBackups(this.config, domain)[0];
        if (!latest) return this.page(res, 409, 'No backup', `<p>There is no backup of ${esc(domain)} to restore. <a href="/">Back to the sites</a>.</p>`);
        await restoreSite(this.config, this.registry, latest.file);
        done = `${domain} is restored from its backup of ${latest.createdAt.slice(0, 16).replace('T', ' ')} UTC.`;
      }
    }
    redirect(res, `/?done=${encodeURIComponent(done)}`);
  }

  // ---- public signup -----------------------------------------------------------------------

  private async signup(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const base = this.config.signup?.enabled ? this.config.signup.baseDomain : undefined;
    if (!base) return this.page(res, 404, 'Signup is closed', '<p>This host does not take new sites here. Ask them how to get one.</p>');
    const render = (status: number, error?: string, values: { name?: string; username?: string } = {}) =>
      this.page(
        res,
        status,
        'Your own site',
        `<p>Choose a name for your site, and your username and password. Your site will be at <strong>NAME.${esc(base)}</strong>, with HTTPS.</p>
<form method="post" action="/signup" class="card narrow">
  ${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
  <label for="name">Site name</label>
  <div class="suffixed"><input id="name" name="name" value="${esc(values.name ?? url.searchParams.get('name') ?? '')}" required pattern="[a-z0-9-]{1,63}" aria-describedby="name-help"><span aria-hidden="true">.${esc(base)}</span></div>
  <p id="name-help" class="help">Lowercase letters, digits and hyphens.</p>
  <label for="username">Username</label><input id="username" name="username" value="${esc(values.username ?? '')}" autocomplete="username" required>
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required aria-describedby="password-help">
  <p id="password-help" class="help">At least 10 characters.</p>
  <button type="submit">Create my site</button>
</form>`,
      );
    if (req.method === 'GET') return render(200);
    const form = await readForm(req);
    // A public form that makes sites: a few per address an hour, so nobody fills the service.
    const client = clientAddress(req);
    const recent = (this.signups.get(client) ?? []).filter((t) => t > Date.now() - 3_600_000);
    if (recent.length >= SIGNUPS_PER_HOUR) {
      res.setHeader('retry-after', String(Math.ceil((recent[0]! + 3_600_000 - Date.now()) / 1000)));
      return render(429, `${SIGNUPS_PER_HOUR} sites were made from your address in the last hour: try again later.`);
    }
    const name = (form.get('name') ?? '').trim().toLowerCase();
    const username = (form.get('username') ?? '').trim().toLowerCase();
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) return render(400, 'A site name is 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen.', { name, username });
    try {
      const made = await addServiceSite(this.config, this.registry, { domain: `${name}.${base}`, username, password: form.get('password') ?? '' });
      this.signups.set(client, [...recent, Date.now()]);
      this.log.info({ site: made.domain.ascii }, 'site created by signup');
      redirect(res, `${made.url}/login?user=${encodeURIComponent(username)}&welcome=1`);
    } catch (error) {
      if (!(error instanceof HearthError) || error.status >= 500) throw error;
      const message = error.code === 'domain_taken' ? `${name}.${base} is taken: choose another name.` : error.message;
      render(error.status, message, { name, username });
    }
  }

  // ---- page ------------------------------------------------------------------------------

  private page(res: http.ServerResponse, status: number, title: string, body: string): void {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
    });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head>
<body><header><p class="brand">Hearth hosting</p></header><main><h1>${esc(title)}</h1>
${body}
</main></body></html>`);
  }
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#faf7f2;color:#2b2118}
header{background:#2b2118;color:#fff;padding:.6rem 1.2rem}.brand{margin:0;font-weight:600}
main{max-width:62rem;margin:0 auto;padding:1.2rem}h1{font-size:1.6rem;margin:.4rem 0 1rem}h2{font-size:1.2rem;margin-top:0}
.card{background:#fff;border:1px solid #d9cfc2;border-radius:10px;padding:1rem 1.2rem;margin:1.2rem 0;display:grid;gap:.4rem}
.narrow{max-width:26rem}label{font-weight:600;margin-top:.4rem}
input{font:inherit;padding:.5rem .6rem;border:1px solid #8a7a68;border-radius:6px;min-width:0}
input:focus,button:focus,a:focus{outline:3px solid #b34a00;outline-offset:2px}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #7a2f00;background:#9a3c00;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#2b2118;border-color:#8a7a68}button.danger{background:#fff;color:#9b1c1c;border-color:#9b1c1c}
button.link{background:none;border:none;color:#7a2f00;text-decoration:underline;padding:0}
a.button{display:inline-block;padding:.5rem 1rem;border-radius:6px;border:1px solid #8a7a68;background:#fff;color:#2b2118;text-decoration:none;line-height:1.5}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #d9cfc2}caption{text-align:left;font-weight:600;padding:.4rem 0}
th,td{text-align:left;padding:.5rem .6rem;border-bottom:1px solid #eee4d8;vertical-align:middle}td.actions form{display:inline}td.actions form,td.actions a{margin:.15rem 0}td.date{white-space:nowrap}
.status{padding:.1rem .5rem;border-radius:999px;font-size:.9rem}.status.active{background:#e3f1e3;color:#1d5b1d}.status.suspended{background:#fff0d6;color:#7a4a00}.status.deleted{background:#f6dede;color:#8a1c1c}
.error{background:#fbe3e3;color:#8a1c1c;padding:.5rem .7rem;border-radius:6px;margin:0}.done{background:#e3f1e3;color:#1d5b1d;padding:.5rem .7rem;border-radius:6px}
.help{margin:0;color:#5c4e40;font-size:.9rem}.muted{color:#5c4e40}.suffixed{display:flex;align-items:center;gap:.3rem}.suffixed input{flex:1}
a{color:#7a2f00}code{background:#efe7dc;padding:0 .3rem;border-radius:4px}
@media (max-width:40rem){table,thead,tbody,tr,th,td{display:block}thead{display:none}tr{border-bottom:1px solid #d9cfc2;padding:.4rem 0}td,th{border:none;padding:.2rem .6rem}}
`;

function button(domain: string, action: string, label: string, kind = 'secondary'): string {
  return `<form method="post" action="/sites/${encodeURIComponent(domain)}/${action}"><button type="submit" class="${kind}" aria-label="${esc(`${label}: ${domain}`)}">${esc(label)}</button></form>`;
}

function redirect(res: http.ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store' });
  res.end();
}

/** The person's address: behind Caddy on this machine, the one Caddy appended to X-Forwarded-For. */
function clientAddress(req: http.IncomingMessage): string {
  const remote = req.socket.remoteAddress ?? '';
  const forwarded = req.headers['x-forwarded-for'];
  if (typeof forwarded === 'string' && isLoopbackIp(remote)) return forwarded.split(',').at(-1)!.trim();
  return remote;
}

function cookieOf(req: http.IncomingMessage): string | undefined {
  const match = new RegExp(`(?:^|;\\s*)${COOKIE}=([A-Za-z0-9_-]+)`).exec(req.headers.cookie ?? '');
  return match?.[1];
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > FORM_BYTES) throw new HearthError('too_large', 'the form is too large', { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** The PostgreSQL schema a site's hearth.json names, if its data is there. */
function siteSchema(dir: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, 'hearth.json'), 'utf8')) as { database?: { schema?: string } }).database?.schema;
  } catch {
    return undefined;
  }
}
