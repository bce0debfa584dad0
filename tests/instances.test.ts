import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createEnvelope, encryptDm, generateAgreementKeyPair, generateSigningKeyPair, newEnvelopeId, nobleSigner, parseAddress, signDmPlaintext } from '@hearth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNats } from './helpers/nats.js';
import { startPostgres, type TestPostgres } from './helpers/postgres.js';
import { endProcess, freePort, HEARTH, hearth, openLive, ROOT, SiteProcess, tempDir, waitFor } from './helpers/sites.js';
import { ServiceProcess, ServiceSite } from './helpers/service.js';
import { VaultProcess } from './helpers/vault.js';
import { launchBrowser, loginPage } from '../e2e/browser.js';

/**
 * One site served by two instances behind Caddy as the load balancer, both on one PostgreSQL,
 * sharing through NATS (docs/SCALING.md): live events and vault requests reach whichever
 * instance holds the socket, the outbox is delivered once whatever instance dies, and a NATS
 * restart loses nothing.
 */
describe('one site, two instances', () => {
  let pg: TestPostgres;
  let nats: TestNats;
  let caddy: ChildProcess | undefined;
  let caddyLog = '';
  let a: SiteProcess;
  let b: SiteProcess;
  let carol: SiteProcess;
  let lbPort: number;
  const schema = 'site_two_instances';
  const rows = <T = Record<string, unknown>>(sql: string) => pg.rows<T>(sql, { schema });
  const aliceDevice = tempDir('alice-device');
  const aliceAtB = tempDir('alice-at-b');
  const carolDevice = tempDir('carol-device');
  let vault: VaultProcess | undefined;

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), TestNats.start()]);
    lbPort = await freePort();
    const [portA, portB] = [await freePort(), await freePort()];
    // The site: its URL is the balancer's; two folders hold the same hearth.json (keys, database,
    // NATS), and share the media folder as a network mount would.
    const dirA = tempDir('instance-a');
    const dirB = tempDir('instance-b');
    await hearth(['init', '--data', dirA, '--url', `http://127.0.0.1:${lbPort}`, '--dev', '--user', 'alice', '--password', SiteProcess.password('alice'), '--database', pg.url, '--database-schema', schema]);
    const config = JSON.parse(fs.readFileSync(path.join(dirA, 'hearth.json'), 'utf8'));
    fs.writeFileSync(path.join(dirA, 'hearth.json'), JSON.stringify({ ...config, cluster: { nats: nats.url } }), { mode: 0o600 });
    fs.copyFileSync(path.join(dirA, 'hearth.json'), path.join(dirB, 'hearth.json'));
    fs.mkdirSync(path.join(dirA, 'media'), { recursive: true });
    fs.symlinkSync(path.join(dirA, 'media'), path.join(dirB, 'media'));
    a = SiteProcess.instanceOf(dirA, lbPort, portA, ['alice']);
    b = SiteProcess.instanceOf(dirB, lbPort, portB, ['alice']);
    await Promise.all([a.start(), b.start()]);
    // Caddy in front, round robin; a dead instance is left out and the request tried on the other.
    const caddyfile = path.join(tempDir('caddy'), 'Caddyfile');
    fs.writeFileSync(caddyfile, `{\n\tadmin off\n\tauto_https off\n}\nhttp://:${lbPort} {\n\tbind 127.0.0.1\n\treverse_proxy 127.0.0.1:${portA} 127.0.0.1:${portB} {\n\t\tlb_policy round_robin\n\t\tlb_try_duration 10s\n\t\tfail_duration 30s\n\t}\n}\n`);
    caddy = spawn('/usr/bin/caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: path.dirname(caddyfile), XDG_DATA_HOME: path.dirname(caddyfile), XDG_CONFIG_HOME: path.dirname(caddyfile) } });
    caddy.stdout!.on('data', (d: Buffer) => (caddyLog += d.toString()));
    caddy.stderr!.on('data', (d: Buffer) => (caddyLog += d.toString()));
    await waitFor('the balancer', async () => (await fetch(`http://127.0.0.1:${lbPort}/healthz`).catch(() => undefined))?.ok, 30_000);
    carol = await SiteProcess.create(['carol'], { database: 'sqlite' });
    // carol follows alice (through the balancer, as any other site would reach her).
    expect((await carol.api('POST', '/api/following', { as: 'carol', body: { address: `alice@127.0.0.1:${lbPort}` } })).status).toBe(201);
    await waitFor('carol among alice\'s followers', () => rows('select follower from followers').length === 1);
    await hearth(['login', '--profile', aliceDevice, '--site', a.url, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    await hearth(['login', '--profile', carolDevice, '--site', carol.url, '--user', 'carol', '--password', SiteProcess.password('carol')]);
  }, 120_000);

  afterAll(async () => {
    await vault?.stop();
    await endProcess(caddy, 'SIGTERM');
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL'), carol?.destroy()]);
    await nats?.stop();
    pg?.stop();
  });

  /** A DM to alice from carol's site, sent straight to one instance's inbox (sealed to a made-up device: the backend cannot tell). */
  async function dmThrough(instance: SiteProcess): Promise<string> {
    const rogue = { id: 'device-x', sign: generateSigningKeyPair(), dh: generateAgreementKeyPair() };
    const aliceKeys = (await a.api('GET', '/api/users/alice')).body.devices as Array<{ id: string; dhKey: string }>;
    const from = carol.address('carol');
    const to = `alice@127.0.0.1:${lbPort}`;
    const env = createEnvelope({ type: 'dm', from: parseAddress(from), to: parseAddress(to), data: { message: encryptDm(signDmPlaintext(rogue, { id: newEnvelopeId(), from, to, sentAt: new Date().toISOString(), text: 'hi' }), aliceKeys) } }, nobleSigner(carol.siteKeyOf('carol')));
    const res = await instance.api('POST', '/federation/inbox', { raw: JSON.stringify(env) });
    expect(res.status).toBe(202);
    return env.id;
  }

  it('a DM arriving through instance A reaches the open page whose live socket is on instance B', async () => {
    const atB = await openLive(b, 'alice', (event) => event.type === 'notification' && event.kind === 'dm');
    const atA = await openLive(a, 'alice', (event) => event.type === 'notification' && event.kind === 'dm');
    // And a real browser: alice's home page, served by instance B, its live socket on B.
    const browser = await launchBrowser();
    try {
      const page = await loginPage(browser, b, 'alice');
      const unread = (await b.api('GET', '/api/notifications', { as: 'alice' })).body.unread as number;
      await expect.poll(() => page.getByRole('link', { name: unread > 0 ? new RegExp(`^Notifications \\(${unread} unread\\)`) : /^Notifications$/ }).count(), { timeout: 10_000 }).toBe(1);
      await dmThrough(a);
      await waitFor('the live event on instance B', () => atB.events.length === 1);
      await waitFor('and on instance A', () => atA.events.length === 1);
      // The page heard it live, without a reload: the badge in the nav counts one more.
      await expect.poll(() => page.getByRole('link', { name: new RegExp(`^Notifications \\(${unread + 1} unread\\)`) }).count(), { timeout: 10_000 }).toBe(1);
    } finally {
      await browser.close();
    }
    // Both instances say where their data is and that the bus is up.
    for (const instance of [a, b]) expect((await instance.api('GET', '/healthz')).body).toMatchObject({ ok: true, database: 'postgres', cluster: 'connected' });
    atA.close();
    atB.close();
  });

  it('a vault linked to A answers a request posted to B, and a wake at B reaches it', async () => {
    vault = await VaultProcess.pair(a, 'alice', { siteUrl: a.url });
    vault.start();
    await waitFor('the vault online at A', async () => (await a.api('GET', '/api/vault', { as: 'alice' })).body.online === true);
    // B holds no link, but knows the vault is online through the bus.
    expect((await b.api('GET', '/api/vault', { as: 'alice' })).body.online).toBe(true);
    // A real DM from carol's device (through the balancer to either instance): the vault gets its copy.
    await hearth(['dm', 'send', '--profile', carolDevice, `alice@127.0.0.1:${lbPort}`, 'the boat leaves at nine']);
    await waitFor('the DM in the vault', async () => (await vault!.messages()).some((m) => m.text === 'the boat leaves at nine'), 30_000);
    // A new device of alice's, talking to instance B only, reads the history from the vault on A.
    await hearth(['login', '--profile', aliceAtB, '--site', b.url, '--user', 'alice', '--password', SiteProcess.password('alice')]);
    const history = JSON.parse((await hearth(['dm', 'list', '--profile', aliceAtB, '--vault', '--json'])).stdout) as { messages: Array<{ text: string }> };
    expect(history.messages.map((m) => m.text)).toContain('the boat leaves at nine');
    // A DM arriving at B wakes the vault's link on A (nothing polls for it).
    await hearth(['dm', 'send', '--profile', carolDevice, `alice@127.0.0.1:${lbPort}`, 'bring a coat']);
    await waitFor('the second DM in the vault', async () => (await vault!.messages()).some((m) => m.text === 'bring a coat'), 30_000);
    expect(rows<{ n: number }>('select count(*) n from vault_queue')[0]!.n).toBe(0);
  });

  it('5,000 posts reach a remote follower exactly once while the instance delivering them is killed', async () => {
    const already = carol.count('select count(*) n from remote_posts');
    // carol's site is down while alice posts: everything queues, at both instances.
    await carol.stop();
    const total = 5000;
    let next = 0;
    const post = async () => {
      for (let i = next++; i < total; i = next++) {
        const res = await fetch(`http://127.0.0.1:${lbPort}/api/posts`, { method: 'POST', headers: { authorization: `Bearer ${await a.token('alice')}`, 'content-type': 'application/json' }, body: JSON.stringify({ text: `post number ${i}` }) });
        if (res.status !== 201) throw new Error(`post ${i}: ${res.status} ${await res.text()}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, post));
    expect(rows<{ n: number }>('select count(*) n from posts')[0]!.n).toBe(total);
    expect(rows<{ n: number }>('select count(*) n from outbox')[0]!.n).toBeGreaterThanOrEqual(total);
    // carol's site comes back; the instance that takes the rows dies with kill -9 part way.
    const instances = new Map<string, SiteProcess>();
    for (const instance of [a, b]) instances.set((await instance.api('GET', '/healthz')).body.instance, instance);
    await carol.start();
    const claimant = await waitFor('an instance delivering', () => {
      const claims = rows<{ claimed_by: string; n: number }>('select claimed_by, count(*) n from outbox where claimed_by is not null group by claimed_by order by n desc');
      return claims.length > 0 && carol.count('select count(*) n from remote_posts') - already > 0 ? claims[0]! : undefined;
    }, 120_000);
    const victim = instances.get(claimant.claimed_by)!;
    const survivor = victim === a ? b : a;
    await victim.stop('SIGKILL');
    const atKill = carol.count('select count(*) n from remote_posts') - already;
    const stranded = rows<{ n: number }>(`select count(*) n from outbox where claimed_by = '${claimant.claimed_by}'`)[0]!.n;
    expect(atKill).toBeLessThan(total);
    expect(stranded).toBeGreaterThan(0);
    // The survivor takes over what the dead one had claimed once it stops beating, and the rest.
    await waitFor('every post at carol\'s', () => carol.count('select count(*) n from remote_posts') - already === total, 180_000, 250);
    await waitFor('alice\'s outbox empty', () => rows<{ n: number }>('select count(*) n from outbox')[0]!.n === 0, 60_000, 250);
    expect(survivor.log).toMatch(/took over outbox rows claimed by an instance that stopped/);
    // Exactly once: every post once (the receiver keeps each id once), none missing, none extra.
    const posts = carol.query<{ text: string }>("select text from remote_posts where text like 'post number %'");
    expect(new Set(posts.map((p) => p.text)).size).toBe(total);
    expect(posts.length).toBe(total);
    await victim.start();
  }, 400_000);

  it('NATS restarted mid-run: nothing is lost, and live events and vault requests come back by themselves', async () => {
    await nats.stop();
    await waitFor('both instances see the bus down', async () => {
      const states = await Promise.all([a, b].map(async (i) => (await i.api('GET', '/healthz')).body.cluster));
      return states.every((s) => s === 'reconnecting');
    });
    // Without the bus the site still takes what arrives (the database is the source of truth).
    const during = await dmThrough(b);
    await nats.run();
    await waitFor('both instances see the bus again', async () => {
      const states = await Promise.all([a, b].map(async (i) => (await i.api('GET', '/healthz')).body.cluster));
      return states.every((s) => s === 'connected');
    }, 30_000);
    expect(rows<{ n: number }>(`select count(*) n from dm_messages where envelope_id = '${during}'`)[0]!.n).toBe(1);
    // Live events cross instances again.
    const atB = await openLive(b, 'alice', (event) => event.type === 'notification' && event.kind === 'dm');
    await waitFor('a live event across instances after the restart', async () => {
      await dmThrough(a);
      return atB.events.length > 0;
    }, 30_000, 1000);
    atB.close();
    // And the vault (its link may be on either instance now) answers through the other one.
    await waitFor('the vault answers through the bus', async () => {
      const res = await hearth(['dm', 'list', '--profile', aliceAtB, '--vault', '--json'], { allowFailure: true });
      return res.code === 0;
    }, 60_000, 1000);
  });
});

describe('a hosting service, two instances', () => {
  let pg: TestPostgres;
  let nats: TestNats;
  let service: ServiceProcess;
  let caddy: ChildProcess | undefined;
  const instances: ChildProcess[] = [];
  let ports: number[] = [];

  /** A site of the service as one instance serves it (its loopback address, that instance's port). */
  const at = (domain: string, instance: number) => new ServiceSite(domain, ports[instance]!, path.join(service.dataDir, 'sites', domain));

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), TestNats.start()]);
    service = await ServiceProcess.create({ '127.0.0.31': ['gus'] });
    await service.stop();
    // Its sites and its list of sites move to PostgreSQL: now it can run as several instances.
    const moved = await hearth(['migrate-storage', '--service', service.dataDir, '--to', pg.url]);
    expect(moved.stdout).toMatch(/can now run as several instances/);
    ports = [await freePort(), await freePort()];
    for (const port of ports) {
      const proc = spawn(process.execPath, [HEARTH, 'service', 'start', '--data', service.dataDir, '--port', String(port), '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HEARTH_NATS_URL: nats.url } });
      let log = '';
      proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      instances.push(proc);
      await waitFor(`service instance on ${port}`, async () => {
        if (proc.exitCode !== null) throw new Error(`the instance exited: ${log}`);
        return (await fetch(`http://127.0.0.1:${port}/.hearth-service/health`).catch(() => undefined))?.ok;
      }, 60_000, 100);
    }
    // Caddy on the port in the sites' URLs, in front of both.
    const dir = tempDir('caddy-service');
    const caddyfile = path.join(dir, 'Caddyfile');
    fs.writeFileSync(caddyfile, `{\n\tadmin off\n\tauto_https off\n}\nhttp://:${service.port} {\n\treverse_proxy 127.0.0.1:${ports[0]} 127.0.0.1:${ports[1]} {\n\t\tlb_policy round_robin\n\t\tlb_try_duration 10s\n\t}\n}\n`);
    caddy = spawn('/usr/bin/caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], { stdio: 'ignore', env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
    await waitFor('the balancer', async () => (await fetch(`http://127.0.0.31:${service.port}/healthz`).catch(() => undefined))?.ok, 30_000);
  }, 120_000);

  afterAll(async () => {
    await endProcess(caddy, 'SIGTERM');
    for (const proc of instances) await endProcess(proc, 'SIGKILL');
    await service?.destroy();
    await nats?.stop();
    pg?.stop();
  });

  it('a site added or suspended from the command line is served, or refused, by both instances', async () => {
    await hearth(['service', 'add', '127.0.0.32', '--data', service.dataDir, '--user', 'hal', '--password', SiteProcess.password('hal')]);
    for (const i of [0, 1]) await waitFor(`hal's site at instance ${i}`, async () => (await at('127.0.0.32', i).api('GET', '/api/users/hal')).status === 200, 10_000);
    await hearth(['service', 'suspend', '127.0.0.32', '--data', service.dataDir]);
    for (const i of [0, 1]) await waitFor(`hal's site suspended at instance ${i}`, async () => (await at('127.0.0.32', i).api('GET', '/api/users/hal')).status === 503, 10_000);
    await hearth(['service', 'resume', '127.0.0.32', '--data', service.dataDir]);
    for (const i of [0, 1]) await waitFor(`hal's site back at instance ${i}`, async () => (await at('127.0.0.32', i).api('GET', '/api/users/hal')).status === 200, 10_000);
    const list = (JSON.parse((await hearth(['service', 'list', '--data', service.dataDir, '--json'])).stdout) as { sites: Array<{ domain: string }> }).sites;
    expect(list.map((s) => s.domain).sort()).toEqual(['127.0.0.31', '127.0.0.32']);
    for (const port of ports) {
      expect(await (await fetch(`http://127.0.0.1:${port}/.hearth-service/health`)).json()).toMatchObject({ ok: true, registry: 'postgres', cluster: 'connected' });
    }
  });

  it('between two sites of the service, a post made through one instance reaches the follower\'s page open on the other', async () => {
    const gusOnB = at('127.0.0.31', 1);
    expect((await gusOnB.api('POST', '/api/following', { as: 'gus', body: { address: `hal@127.0.0.32:${service.port}` } })).status).toBe(201);
    const live = await openLive(gusOnB, 'gus', (event) => event.type === 'feed');
    const halOnA = at('127.0.0.32', 0);
    const posted = (await halOnA.api('POST', '/api/posts', { as: 'hal', body: { text: 'from the other instance' } })).body.id as string;
    await waitFor('the post in gus\'s feed', async () => (await gusOnB.api('GET', '/api/feed', { as: 'gus' })).body.items.some((p: { id: string }) => p.id === posted), 20_000);
    await waitFor('the live event on the other instance', () => live.events.length > 0, 20_000);
    live.close();
  });
});
