import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestAcme } from './helpers/acme.js';
import { TestNetwork } from './helpers/netns.js';
import { endProcess, HEARTH, hearth, ROOT, SiteProcess, tempDir, waitFor } from './helpers/sites.js';

const run = promisify(execFile);

/**
 * HTTPS by itself (issue 12): one production hosting service (SSRF guard on) with Caddy in front,
 * in a network namespace with an address outside every private range, as a VPS on the internet.
 * Debian's Pebble is the certificate authority and pebble-challtestsrv the DNS: every name points
 * at the service. Two sites get certificates at their first visit, a name that is not a site gets
 * none, and the sites follow each other, comment and exchange a DM over HTTPS. The only things
 * made trusted are the test CA (NODE_EXTRA_CA_CERTS) and the test DNS (the namespace's resolver).
 */
describe('a hosting service serves its sites over HTTPS by itself', { timeout: 300_000 }, () => {
  let net: TestNetwork;
  let acme: TestAcme;
  let proc: ChildProcess | undefined;
  let log = '';
  const dataDir = tempDir('https-service');
  const [A, B, PANEL] = ['alice.hearth.test', 'bob.hearth.test', 'hosting.hearth.test'];
  const tokens = new Map<string, string>();

  /** An HTTPS request to a site as a browser would make it: the name in SNI and Host, the test CA trusted. */
  function request(domain: string, method: string, urlPath: string, options: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: any; cert: { subjectaltname?: string; issuer?: { CN?: string } } }> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: net.innerIp,
          port: 443,
          servername: domain,
          method,
          path: urlPath,
          ca: acme.issuingRoot,
          headers: { host: domain, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
          timeout: 30_000,
        },
        (res) => {
          const cert = (res.socket as TLSSocket).getPeerCertificate();
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* keep text */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, cert: cert as never });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A form sent to the panel over HTTPS, with its session cookie. */
  function panelPost(urlPath: string, form: Record<string, string>, cookie?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    const body = new URLSearchParams(form).toString();
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: net.innerIp, port: 443, servername: PANEL, method: 'POST', path: urlPath, ca: acme.issuingRoot, headers: { host: PANEL, origin: `https://${PANEL}`, 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) }, timeout: 60_000 },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async function token(domain: string, user: string): Promise<string> {
    if (!tokens.has(`${user}@${domain}`)) {
      const res = await request(domain, 'POST', '/api/auth/login', { body: { username: user, password: SiteProcess.password(user) } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      tokens.set(`${user}@${domain}`, res.body.token as string);
    }
    return tokens.get(`${user}@${domain}`)!;
  }

  /** The `hearth` command inside the service's network: it resolves names with the test DNS and trusts the test CA. */
  const hearthInside = (args: string[]) => run(net.prefix[0]!, [...net.prefix.slice(1), process.execPath, HEARTH, ...args], { cwd: ROOT, timeout: 60_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: acme.issuingRootFile } });

  beforeAll(async () => {
    net = TestNetwork.create('https', { publicRange: true });
    acme = await TestAcme.start(net.hostIp, net.innerIp);
    net.useNameserver(net.hostIp);
    await hearth(['service', 'init', '--data', dataDir]);
    await hearth(['service', 'caddyfile', '--data', dataDir, '--acme-directory', acme.directory, '--acme-ca-root', acme.listenerCa, '--email', 'vendor@hearth.test']);
    await hearth(['service', 'admin', '--data', dataDir, '--user', 'vendor', '--password', 'vendor-secret-pw']);
    await hearth(['service', 'settings', '--data', dataDir, '--panel-host', PANEL, '--public-address', net.innerIp]);
    proc = spawn(net.prefix[0]!, [...net.prefix.slice(1), process.execPath, HEARTH, 'service', 'start', '--data', dataDir, '--caddy', '--log-level', 'warn'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: acme.issuingRootFile },
    });
    proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor('the service and Caddy', () => {
      if (proc!.exitCode !== null) throw new Error(`the service exited: ${log}`);
      return log.includes('Caddy serves the sites over HTTPS');
    }, 60_000, 100);
  });

  afterAll(async () => {
    if (process.env.HTTPS_TEST_LOGS) console.log(`---- service\n${log}\n---- acme\n${acme?.log}`);
    await endProcess(proc, 'SIGTERM');
    await acme?.stop();
    net?.destroy();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('the vendor creates the two sites in the panel, over HTTPS; a domain that does not point here is refused', async () => {
    const login = await panelPost('/login', { username: 'vendor', password: 'vendor-secret-pw' });
    expect(login.status, login.text).toBe(303);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect(String(login.headers['set-cookie'])).toContain('Secure');
    for (const [domain, user] of [[A, 'alice'], [B, 'bob']] as const) {
      const made = await panelPost('/sites', { domain, username: user, password: SiteProcess.password(user) }, cookie);
      expect(made.status, made.text).toBe(303);
      expect(decodeURIComponent(String(made.headers.location))).toContain(`Created ${domain}`);
    }
    await acme.pointName('elsewhere.hearth.test', '11.0.0.99');
    const refused = await panelPost('/sites', { domain: 'elsewhere.hearth.test', username: 'eve', password: SiteProcess.password('eve') }, cookie);
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('does not point at this service: it points at 11.0.0.99');
  });

  it('each site gets a certificate from the CA at its first visit, for its own name', async () => {
    for (const [domain, user] of [[A, 'alice'], [B, 'bob']] as const) {
      const res = await request(domain, 'GET', `/api/users/${user}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.address).toBe(`${user}@${domain}`);
      expect(res.cert.subjectaltname).toContain(`DNS:${domain}`);
    }
    // Caddy keeps them in the service's folder.
    const stored = fs.readdirSync(path.join(dataDir, 'caddy'), { recursive: true }).map(String);
    expect(stored.some((f) => f.endsWith(`${A}.crt`))).toBe(true);
  });

  it('a name that is not one of the sites gets no certificate', async () => {
    const outcome = await request('mallory.hearth.test', 'GET', '/').then(
      () => 'served',
      (error: Error) => error.message,
    );
    expect(outcome).not.toBe('served');
    const stored = fs.readdirSync(path.join(dataDir, 'caddy'), { recursive: true }).map(String);
    expect(stored.some((f) => f.includes('mallory'))).toBe(false);
  });

  it('the two sites follow each other, comment and exchange a DM over HTTPS, with the SSRF guard on', async () => {
    const [alice, bob] = [await token(A, 'alice'), await token(B, 'bob')];
    expect((await request(B, 'POST', '/api/following', { token: bob, body: { address: `alice@${A}` } })).status).toBeLessThan(300);
    expect((await request(A, 'POST', '/api/following', { token: alice, body: { address: `bob@${B}` } })).status).toBeLessThan(300);
    const words = `over https ${crypto.randomUUID()}`;
    const post = await request(A, 'POST', '/api/posts', { token: alice, body: { text: words } });
    expect(post.status).toBe(201);
    await waitFor('the post in bob\'s feed', async () => (await request(B, 'GET', '/api/feed', { token: bob })).body.items?.some((p: { text: string }) => p.text === words), 120_000, 250);
    expect((await request(B, 'POST', '/api/comments', { token: bob, body: { post: { author: `alice@${A}`, id: post.body.id }, text: 'seen over https' } })).status).toBeLessThan(300);
    await waitFor('the comment at alice\'s site', async () => (await request(A, 'GET', `/api/users/alice/posts/${post.body.id}`)).body.comments?.some((c: { text: string }) => c.text === 'seen over https'), 120_000, 250);

    const aliceProfile = tempDir('https-alice');
    const bobProfile = tempDir('https-bob');
    await hearthInside(['login', '--profile', aliceProfile, '--site', `https://${A}`, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    await hearthInside(['login', '--profile', bobProfile, '--site', `https://${B}`, '--user', 'bob', '--password', SiteProcess.password('bob')]);
    const secret = `whispered over https ${crypto.randomUUID()}`;
    await hearthInside(['dm', 'send', '--profile', aliceProfile, `bob@${B}`, secret]);
    await waitFor('the DM on bob\'s device', async () => JSON.parse((await hearthInside(['dm', 'list', '--profile', bobProfile, '--json'])).stdout).messages.some((m: { text: string }) => m.text === secret), 120_000, 500);

    // The guard is really on: a private or loopback address is refused, not fetched.
    for (const target of ['eve@10.1.2.3', 'eve@127.0.0.1:9']) {
      const refused = await request(A, 'POST', '/api/following', { token: alice, body: { address: target } });
      expect(refused.status, JSON.stringify(refused.body)).toBeGreaterThanOrEqual(400);
      expect(JSON.stringify(refused.body)).toMatch(/forbidden_address|invalid_address/);
    }
  });
});
