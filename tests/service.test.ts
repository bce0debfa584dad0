import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { API, createEnvelope, deriveRelayKeyPair, newEnvelopeId, parseAddress, sealForSite } from '@hearth/protocol';
import { nodeSigner } from '@hearth/protocol/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ServiceProcess, type ServiceSite } from './helpers/service.js';
import { hearth, SiteProcess, tempDir, waitFor } from './helpers/sites.js';
import { openDatabase } from './helpers/sqlite.js';

/**
 * A hosting service (issue 12): one `hearth service start` process serving two sites, each on its
 * own host name (two loopback addresses), each with a person called alice. Everything here goes
 * over real sockets to the one process, chosen by the Host header.
 */
describe('a hosting service with many sites in one process', { timeout: 240_000 }, () => {
  let service: ServiceProcess;
  let a: ServiceSite;
  let b: ServiceSite;

  beforeAll(async () => {
    service = await ServiceProcess.create({ '127.0.0.2': ['alice'], '127.0.0.3': ['alice', 'bob'] });
    a = service.site('127.0.0.2');
    b = service.site('127.0.0.3');
  });
  afterAll(async () => {
    await service?.destroy();
  });

  it('serves each site by its Host header, with its own people and keys, the same username on both', async () => {
    const [onA, onB] = await Promise.all([a.api('GET', '/api/users/alice'), b.api('GET', '/api/users/alice')]);
    expect(onA.status).toBe(200);
    expect(onB.status).toBe(200);
    expect(onA.body.address).toBe(a.address('alice'));
    expect(onB.body.address).toBe(b.address('alice'));
    expect(onA.body.siteKey).not.toBe(onB.body.siteKey);
    expect((await a.api('GET', '/api/users/bob')).status).toBe(404);
    const discovery = await b.api('GET', '/.well-known/hearth');
    expect(discovery.body.users ?? discovery.body.site).toBeTruthy();
    // Each site has its own folder and database.
    for (const site of [a, b]) expect(fs.existsSync(path.join(site.dataDir, 'hearth.db'))).toBe(true);
  });

  it('a token of site A opens nothing on site B: every route that needs a login answers 401', async () => {
    const token = await a.token('alice');
    expect((await a.api('GET', '/api/me', { token })).status).toBe(200);
    const fill = (p: string) => p.replace(/:address/g, encodeURIComponent(b.address('alice'))).replace(/:name/g, 'alice').replace(/:[a-zA-Z]+/g, 'x');
    const tried: string[] = [];
    for (const [name, route] of Object.entries(API)) {
      if ((route as { public?: true }).public) continue;
      const res = await b.api(route.method, fill(route.path), { token, body: route.method === 'GET' || route.method === 'DELETE' ? undefined : {} });
      expect(res.status, `${name}: ${route.method} ${route.path} -> ${JSON.stringify(res.body)}`).toBe(401);
      tried.push(name);
    }
    expect(tried.length).toBeGreaterThan(40);
    // Outside the contract: the upload, and the live socket.
    const upload = await fetch(`${b.url}/api/media`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' }, body: Buffer.from('89504e470d0a1a0a', 'hex') });
    expect(upload.status).toBe(401);
    const live = new WebSocket(`ws://${b.domain}:${b.port}/api/live`);
    const frames: Array<{ type: string }> = [];
    live.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve) => live.once('open', resolve));
    live.send(JSON.stringify({ token }));
    const closed = await new Promise<number>((resolve) => live.once('close', (code) => resolve(code)));
    expect(frames.some((f) => f.type === 'ready')).toBe(false);
    expect(closed).not.toBe(1000);
  });

  it('a Host naming no site gets a clear 404, as JSON or as a page', async () => {
    const json = await fetch(`http://127.0.0.1:${service.port}/api/users/alice`);
    expect(json.status).toBe(404);
    expect((await json.json()).error.code).toBe('unknown_site');
    const page = await fetch(`http://127.0.0.1:${service.port}/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('is not a site on this service');
  });

  it('answers Caddy\'s on-demand TLS question only for its own sites', async () => {
    const ask = (domain: string) => fetch(`http://127.0.0.1:${service.port}/.hearth-service/tls-allowed?domain=${encodeURIComponent(domain)}`).then((r) => r.status);
    expect(await ask('127.0.0.2')).toBe(200);
    expect(await ask('127.0.0.3')).toBe(200);
    expect(await ask('127.0.0.9')).toBe(404);
    expect(await ask('evil.example.com')).toBe(404);
  });

  it('says when it is ready, and gives Prometheus metrics per site to this machine only', async () => {
    const base = `http://127.0.0.1:${service.port}/.hearth-service`;
    expect(await waitFor('ready', async () => (await fetch(`${base}/ready`)).status === 200)).toBe(true);
    await a.api('GET', '/api/users/alice');
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(/hearth_site_requests_total\{site="127\.0\.0\.2",status="2xx"\} [1-9]/);
    expect(text).toMatch(/hearth_service_sites\{status="active"\} 2/);
    expect(text).toContain('hearth_process_resident_memory_bytes');
    // Through a proxy (as from the internet through Caddy) they are refused.
    expect((await fetch(`${base}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(403);
  });

  it('one coturn relays the calls of every site: each site hands out credentials for it, and systemd runs it', async () => {
    const set = await hearth(['service', 'turn', '--data', service.dataDir, '--port', '3479', '--min-port', '41000', '--max-port', '41099']);
    expect(set.stdout).toContain('coturn on port 3479');
    expect(fs.readFileSync(path.join(service.dataDir, 'turnserver.conf'), 'utf8')).toContain('static-auth-secret=');
    const secret = JSON.parse(fs.readFileSync(path.join(service.dataDir, 'service.json'), 'utf8')).turn.secret as string;
    await service.stop();
    await service.start();
    for (const site of [a, b]) {
      const res = await site.api('GET', '/api/turn-credentials', { as: 'alice' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.urls).toContain(`turn:${site.domain}:3479?transport=udp`);
      expect(res.body.credential).toBe(crypto.createHmac('sha1', secret).update(res.body.username).digest('base64'));
    }
    const dir = tempDir('units-turn');
    await hearth(['service', 'systemd', '--data', service.dataDir, '--out', dir]);
    expect(fs.readFileSync(path.join(dir, 'hearth-coturn.service'), 'utf8')).toContain(`turnserver -c ${path.join(service.dataDir, 'turnserver.conf')}`);
  });

  it('writes systemd units for itself and for Caddy in front', async () => {
    const dir = tempDir('units');
    const result = await hearth(['service', 'systemd', '--data', service.dataDir, '--user', 'hearth', '--out', dir]);
    expect(result.stdout).toContain('systemctl enable --now hearth.service hearth-caddy.service');
    const unit = fs.readFileSync(path.join(dir, 'hearth.service'), 'utf8');
    expect(unit).toContain(`service start --data ${service.dataDir} --port 8080`);
    expect(unit).toContain(`ReadWritePaths=${service.dataDir}`);
    expect(fs.readFileSync(path.join(dir, 'hearth-caddy.service'), 'utf8')).toContain(`run --config ${path.join(service.dataDir, 'Caddyfile')}`);
    expect(fs.readFileSync(path.join(service.dataDir, 'Caddyfile'), 'utf8')).toContain('ask http://127.0.0.1:8080/.hearth-service/tls-allowed');
    const bad = await hearth(['service', 'systemd', '--data', service.dataDir, '--user', 'Robert; rm -rf /'], { allowFailure: true });
    expect(bad.code).toBe(2);
  });

  it('the two sites follow each other and exchange a comment and an end-to-end encrypted DM', async () => {
    const follow = await b.api('POST', '/api/following', { as: 'bob', body: { address: a.address('alice') } });
    expect(follow.status, JSON.stringify(follow.body)).toBeLessThan(300);
    expect((await a.api('POST', '/api/following', { as: 'alice', body: { address: b.address('bob') } })).status).toBeLessThan(300);
    const words = `from one site of the service to another ${crypto.randomUUID()}`;
    const post = await a.api('POST', '/api/posts', { as: 'alice', body: { text: words } });
    expect(post.status).toBe(201);
    await waitFor('the post in bob\'s feed', async () => (await b.api('GET', '/api/feed', { as: 'bob' })).body.items.some((p: { text: string }) => p.text === words), 60_000, 100);
    const comment = await b.api('POST', '/api/comments', { as: 'bob', body: { post: { author: a.address('alice'), id: post.body.id }, text: 'hello, neighbour' } });
    expect(comment.status, JSON.stringify(comment.body)).toBeLessThan(300);
    await waitFor('the comment on alice\'s post', async () => (await a.api('GET', `/api/users/alice/posts/${post.body.id}`)).body.comments?.some((c: { text: string }) => c.text === 'hello, neighbour'), 60_000, 100);

    const aliceProfile = tempDir('svc-alice');
    const bobProfile = tempDir('svc-bob');
    await hearth(['login', '--profile', aliceProfile, '--site', a.url, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    await hearth(['login', '--profile', bobProfile, '--site', b.url, '--user', 'bob', '--password', SiteProcess.password('bob')]);
    const secret = `a secret between sites ${crypto.randomUUID()}`;
    await hearth(['dm', 'send', '--profile', aliceProfile, b.address('bob'), secret]);
    await waitFor('the DM on bob\'s device', async () => {
      const list = JSON.parse((await hearth(['dm', 'list', '--profile', bobProfile, '--json'])).stdout) as { messages: Array<{ text: string }> };
      return list.messages.some((m) => m.text === secret);
    }, 60_000, 250);
    for (const site of [a, b]) {
      const bytes = Buffer.concat(fs.readdirSync(site.dataDir).filter((f) => f.startsWith('hearth.db')).map((f) => fs.readFileSync(path.join(site.dataDir, f))));
      expect(bytes.includes(secret)).toBe(false);
    }
  });

  it('a suspended site answers 503 with a clear page and keeps its data; resumed, it serves it again', async () => {
    const before = (await a.api('GET', '/api/users/alice/posts')).body.items.length as number;
    expect(before).toBeGreaterThan(0);
    const suspended = await hearth(['service', 'suspend', '127.0.0.2', '--data', service.dataDir]);
    expect(suspended.stdout).toContain('keeps all its data');
    const json = await a.api('GET', '/api/users/alice/posts');
    expect(json.status).toBe(503);
    expect(json.body.error.code).toBe('site_suspended');
    expect(json.headers.get('retry-after')).toBeTruthy();
    const page = await fetch(`${a.url}/@alice`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('is suspended by its host');
    // The other site is not touched.
    expect((await b.api('GET', '/api/users/alice')).status).toBe(200);
    await hearth(['service', 'resume', '127.0.0.2', '--data', service.dataDir]);
    expect((await a.api('GET', '/api/users/alice/posts')).body.items.length).toBe(before);
  });

  it('refuses bad domains and taken ones with a clear error, and creates nothing', async () => {
    const add = (domain: string) => hearth(['service', 'add', domain, '--data', service.dataDir, '--user', 'carol', '--password', SiteProcess.password('carol')], { allowFailure: true });
    const cases: Array<[string, string]> = [
      ['carol.example.com:8443', 'without a port'],
      ['10.1.2.3', 'is an IP address'],
      ['\u0430pple.example.com', 'xn--pple-'],
      ['127.0.0.2', 'already a site on this service'],
      ['https://carol.example.com', 'type only the domain'],
    ];
    const sitesBefore = fs.readdirSync(path.join(service.dataDir, 'sites')).sort();
    for (const [domain, message] of cases) {
      const result = await add(domain);
      expect(result.code, domain).toBe(2);
      expect(result.stderr, domain).toContain(message);
    }
    expect(fs.readdirSync(path.join(service.dataDir, 'sites')).sort()).toEqual(sitesBefore);
    const list = JSON.parse((await hearth(['service', 'list', '--data', service.dataDir, '--json'])).stdout) as { sites: Array<{ domain: string }> };
    expect(list.sites.map((s) => s.domain)).toEqual(['127.0.0.2', '127.0.0.3']);
  });

  it('backs a site up while it serves and restores it alone: what the backup held comes back, the other site is not touched', async () => {
    const before = `before the backup ${crypto.randomUUID()}`;
    const after = `after the backup ${crypto.randomUUID()}`;
    expect((await a.api('POST', '/api/posts', { as: 'alice', body: { text: before } })).status).toBe(201);
    const made = await hearth(['service', 'backup', '127.0.0.2', '--data', service.dataDir]);
    const file = /to (\S+\.tar\.gz)/.exec(made.stdout)![1]!;
    expect(fs.existsSync(file)).toBe(true);
    expect((await a.api('POST', '/api/posts', { as: 'alice', body: { text: after } })).status).toBe(201);
    const onB = (await b.api('GET', '/api/users/alice/posts')).body.items.length as number;

    const refused = await hearth(['service', 'restore', '--from', file, '--data', service.dataDir], { allowFailure: true });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('suspend it first');
    await hearth(['service', 'suspend', '127.0.0.2', '--data', service.dataDir]);
    const restored = await hearth(['service', 'restore', '--from', file, '--data', service.dataDir]);
    expect(restored.stdout).toContain('Restored 127.0.0.2');
    expect(restored.stdout).toContain('still suspended');
    await hearth(['service', 'resume', '127.0.0.2', '--data', service.dataDir]);
    const texts = ((await a.api('GET', '/api/users/alice/posts?limit=50')).body.items as Array<{ text: string }>).map((p) => p.text);
    expect(texts).toContain(before);
    expect(texts).not.toContain(after);
    expect((await b.api('GET', '/api/users/alice/posts')).body.items.length).toBe(onB);
    // alice still signs in with the same password: the restored site is hers, keys and all.
    expect((await a.api('POST', '/api/auth/login', { body: { username: 'alice', password: SiteProcess.password('alice') } })).status).toBe(200);
  });

  it('a deleted site answers 410 and gets no certificate; restored from its backup, it serves again', async () => {
    const made = await hearth(['service', 'backup', '127.0.0.3', '--data', service.dataDir]);
    const file = /to (\S+\.tar\.gz)/.exec(made.stdout)![1]!;
    const deleted = await hearth(['service', 'delete', '127.0.0.3', '--data', service.dataDir]);
    expect(deleted.stdout).toContain('for 30 days');
    const gone = await b.api('GET', '/api/users/alice');
    expect(gone.status).toBe(410);
    expect(gone.body.error.code).toBe('site_deleted');
    const page = await fetch(`${b.url}/`, { headers: { accept: 'text/html' } });
    expect(await page.text()).toContain('was deleted by its host');
    expect((await fetch(`http://127.0.0.1:${service.port}/.hearth-service/tls-allowed?domain=127.0.0.3`)).status).toBe(404);
    // Within the grace period nothing is purged.
    expect((await hearth(['service', 'purge', '--data', service.dataDir])).stdout).toContain('Nothing to remove');
    await hearth(['service', 'restore', '--from', file, '--data', service.dataDir]);
    expect((await b.api('GET', '/api/users/alice')).status).toBe(200);
    expect((await b.api('GET', '/api/feed', { as: 'bob' })).status).toBe(200);
  });

  it('a site moves to another service: its backup restored there serves the same site, keys and all', async () => {
    const made = await hearth(['service', 'backup', '127.0.0.2', '--data', service.dataDir]);
    const file = /to (\S+\.tar\.gz)/.exec(made.stdout)![1]!;
    const other = await ServiceProcess.create({});
    try {
      // The new service listens on another port: the site moves with its name and its keys.
      const restored = await hearth(['service', 'restore', '--from', file, '--data', other.dataDir]);
      expect(restored.stdout).toContain('Restored 127.0.0.2');
      const before = (await a.api('GET', '/api/users/alice')).body;
      const moved = await fetch(`http://127.0.0.2:${other.port}/api/users/alice`).then((r) => r.json());
      expect(moved.siteKey).toBe(before.siteKey);
      expect(moved.address).toBe(before.address);
      expect(JSON.parse((await hearth(['service', 'list', '--data', other.dataDir, '--json'])).stdout).sites.map((s: { domain: string }) => s.domain)).toEqual(['127.0.0.2']);
    } finally {
      await other.destroy();
    }
  });

  it('a backup that is not one, or was damaged, is refused before anything is replaced', async () => {
    const junk = path.join(tempDir('junk'), 'junk.tar.gz');
    fs.writeFileSync(junk, 'not a backup at all');
    const result = await hearth(['service', 'restore', '--from', junk, '--data', service.dataDir], { allowFailure: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('could not be read as a backup');
    expect((await a.api('GET', '/api/users/alice')).status).toBe(200);
  });

  it('holds a site to the limits its host sets: posts per hour and storage, with a clear error and nothing stored', async () => {
    const q = await service.add('127.0.0.8', ['quinn']);
    const post = (text: string) => q.api('POST', '/api/posts', { as: 'quinn', body: { text } });
    const stored = async () => (await q.api('GET', '/api/users/quinn/posts')).body.items.length as number;
    expect((await hearth(['service', 'quota', '127.0.0.8', '--data', service.dataDir, '--posts-per-hour', '2'])).stdout).toContain('2 posts an hour');
    expect((await post('first')).status).toBe(201);
    expect((await post('second')).status).toBe(201);
    // The running service applies a changed limit within seconds.
    const refused = await waitFor('the limit applied', async () => {
      const res = await post('third');
      return res.status === 429 ? res : undefined;
    }, 30_000, 200);
    expect(refused.body.error.code).toBe('quota_exceeded');
    expect(refused.body.error.message).toContain('2 posts an hour');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await stored()).toBe(2);

    await hearth(['service', 'quota', '127.0.0.8', '--data', service.dataDir, '--posts-per-hour', 'none', '--storage-mb', '0.1']);
    const full = await waitFor('the storage limit applied', async () => {
      const res = await post('too much');
      return res.status === 507 ? res : undefined;
    }, 30_000, 200);
    expect(full.body.error.code).toBe('storage_quota_exceeded');
    expect(full.body.error.message).toContain('nothing was saved');
    expect(await stored()).toBe(2);
    const bad = await hearth(['service', 'quota', '127.0.0.8', '--data', service.dataDir, '--storage-mb', '-3'], { allowFailure: true });
    expect(bad.code).toBe(2);
    await hearth(['service', 'quota', '127.0.0.8', '--data', service.dataDir, '--storage-mb', 'none']);
    await waitFor('the limits lifted', async () => (await post('room again')).status === 201, 30_000, 200);
  });

  it('holds a site\'s relaying for friends to its host\'s daily volume', async () => {
    expect((await b.api('POST', '/api/relay/friends', { as: 'bob', body: { address: a.address('alice') } })).status).toBe(200);
    // A relay envelope from alice (site A) to bob (site B), to be passed on to A: signed with
    // alice's real site key, its inner envelope sealed for A's relay key.
    const aliceKey = openDatabase(path.join(a.dataDir, 'hearth.db'), { readonly: true }).all<{ site_secret_key: string; site_public_key: string }>('select site_secret_key, site_public_key from users where username = ?', 'alice')[0]!;
    const signer = nodeSigner({ publicKey: aliceKey.site_public_key, secretKey: aliceKey.site_secret_key });
    const relayKeyOfA = deriveRelayKeyPair(JSON.parse(fs.readFileSync(path.join(a.dataDir, 'hearth.json'), 'utf8')).serverKey.secretKey).publicKey;
    const from = parseAddress(a.address('alice'));
    const relayed = () => {
      const inner = createEnvelope({ type: 'post.create', from, to: parseAddress(a.address('alice')), data: { post: { id: newEnvelopeId().slice(-12), text: 'x'.repeat(2000), createdAt: new Date().toISOString() } } }, signer);
      return createEnvelope({ type: 'relay', from, to: parseAddress(b.address('bob')), data: { next: { host: from.host, port: from.port }, hops: 1, sealed: sealForSite([JSON.stringify(inner)], relayKeyOfA) } }, signer);
    };
    const send = (env: unknown) => fetch(`${b.url}/federation/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(env) });
    await hearth(['service', 'quota', '127.0.0.3', '--data', service.dataDir, '--relay-mb-per-day', '0.001']);
    const refused = await waitFor('the relay limit applied', async () => {
      const res = await send(relayed());
      return res.status === 429 ? res : undefined;
    }, 30_000, 200);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('relay_rate_limited');
    expect(body.error.message).toContain('has relayed all its host allows today');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    await hearth(['service', 'quota', '127.0.0.3', '--data', service.dataDir, '--relay-mb-per-day', 'none']);
    await waitFor('relaying again', async () => (await send(relayed())).status === 202, 30_000, 200);
  });

  it('a site added while the service runs is served at once, and a restart resumes every site', async () => {
    const c = await service.add('127.0.0.4', ['carol']);
    expect((await c.api('GET', '/api/users/carol')).status).toBe(200);
    await service.stop();
    await service.start();
    expect((await b.api('GET', '/api/feed', { as: 'bob' })).body.items.length).toBeGreaterThan(0);
    expect((await c.api('GET', '/api/users/carol')).status).toBe(200);
  });
});

describe('scheduled backups of a hosting service', { timeout: 120_000 }, () => {
  let service: ServiceProcess;
  afterAll(async () => {
    await service?.destroy();
  });

  it('backs every site up on schedule and keeps only the newest few', async () => {
    // A backup every 1.8 s, keeping 2: several rounds within the test.
    service = await ServiceProcess.create({ '127.0.0.5': ['alice'], '127.0.0.6': ['bob'] }, { backups: { everyHours: 0.0005, keep: 2 } });
    const seen = new Set<string>();
    const dir = (domain: string) => path.join(service.dataDir, 'backups', domain);
    await waitFor('three rounds of backups', () => {
      for (const domain of ['127.0.0.5', '127.0.0.6']) {
        const files = fs.existsSync(dir(domain)) ? fs.readdirSync(dir(domain)).filter((f) => f.endsWith('.tar.gz')) : [];
        expect(files.length).toBeLessThanOrEqual(2);
        for (const f of files) seen.add(`${domain}/${f}`);
      }
      return [...seen].filter((f) => f.startsWith('127.0.0.5/')).length >= 3 && [...seen].filter((f) => f.startsWith('127.0.0.6/')).length >= 3;
    }, 90_000, 100);
    const listed = JSON.parse((await hearth(['service', 'backups', '127.0.0.5', '--data', service.dataDir, '--json'])).stdout) as { backups: Array<{ file: string }> };
    expect(listed.backups.length).toBeGreaterThanOrEqual(1);
    expect(listed.backups.length).toBeLessThanOrEqual(2);
  });
});

describe('the hosting panel refuses what it should', { timeout: 120_000 }, () => {
  let service: ServiceProcess;
  afterAll(async () => {
    await service?.destroy();
  });

  it('sends strangers to sign in, refuses forms from other sites, and slows down password guessing', async () => {
    service = await ServiceProcess.create({ '127.0.0.7': ['alice'] }, { panel: { host: '127.0.0.1' } });
    await hearth(['service', 'admin', '--data', service.dataDir, '--user', 'vendor', '--password', 'vendor-secret-pw']);
    await service.stop();
    await service.start();
    const panel = `http://127.0.0.1:${service.port}`;
    const post = (urlPath: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${panel}${urlPath}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });
    expect((await fetch(`${panel}/`, { redirect: 'manual' })).headers.get('location')).toBe('/login');
    const anonymous = await post('/sites', { domain: 'mallory.example.com', username: 'mallory', password: 'mallory-secret-pw' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/login');
    expect(JSON.parse((await hearth(['service', 'list', '--data', service.dataDir, '--json'])).stdout).sites).toHaveLength(1);
    expect((await post('/login', { username: 'vendor', password: 'vendor-secret-pw' }, { origin: 'https://evil.example' })).status).toBe(403);
    const good = await post('/login', { username: 'vendor', password: 'vendor-secret-pw' });
    expect(good.status).toBe(303);
    const cookie = good.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
    const session = cookie.split(';')[0]!;
    expect((await fetch(`${panel}/`, { headers: { cookie: session } })).status).toBe(200);
    // A signed-in form sent from another site is refused too.
    expect((await post('/sites/127.0.0.7/suspend', {}, { cookie: session, origin: 'https://evil.example' })).status).toBe(403);
    expect(JSON.parse((await hearth(['service', 'list', '--data', service.dataDir, '--json'])).stdout).sites[0].status).toBe('active');
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await post('/login', { username: 'vendor', password: `guess ${i}` })).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses[5]).toBe(429);
    // Signup is off unless the vendor turns it on.
    expect((await fetch(`${panel}/signup`)).status).toBe(404);
  });
});

describe('the public signup page', { timeout: 120_000 }, () => {
  let service: ServiceProcess;
  afterAll(async () => {
    await service?.destroy();
  });

  it('makes a few sites per address an hour, then asks to come back later', async () => {
    service = await ServiceProcess.create({}, { panel: { host: '127.0.0.1' }, signup: { enabled: true, baseDomain: 'hearth.test' } });
    const signup = (name: string, from: string) =>
      fetch(`http://127.0.0.1:${service.port}/signup`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from }, body: new URLSearchParams({ name, username: 'someone', password: 'someone-secret-pw' }).toString() });
    for (const name of ['one', 'two', 'three']) {
      const made = await signup(name, '198.51.100.7');
      expect(made.status).toBe(303);
      expect(made.headers.get('location')).toBe(`http://${name}.hearth.test:${service.port}/login?user=someone&welcome=1`);
    }
    const fourth = await signup('four', '198.51.100.7');
    expect(fourth.status).toBe(429);
    expect(await fourth.text()).toContain('try again later');
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(0);
    // Someone else is not held back by them.
    expect((await signup('five', '198.51.100.8')).status).toBe(303);
    const domains = JSON.parse((await hearth(['service', 'list', '--data', service.dataDir, '--json'])).stdout).sites.map((s: { domain: string }) => s.domain);
    expect(domains).toEqual(['five.hearth.test', 'one.hearth.test', 'three.hearth.test', 'two.hearth.test']);
  });
});
