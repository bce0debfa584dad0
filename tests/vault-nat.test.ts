import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEARTH, SiteProcess, waitFor } from './helpers/sites.js';
import { DmSender, VaultProcess, vaultStatus } from './helpers/vault.js';

/**
 * The vault behind NAT: it runs in a network namespace of its own ("home") joined to this host by
 * a veth pair. Home has a route out to the backend, and a firewall that drops every connection
 * started from outside (only replies to its own connections get in), as a home router does.
 * The vault still pairs and syncs, because it only ever dials out.
 */
const suffix = crypto.randomBytes(3).toString('hex');
const NS = `hearth-home-${suffix}`;
const HOST_IF = `hh${suffix}`;
const HOME_IF = `hv${suffix}`;
// A /30 of our own in 10.77.0.0/16, so parallel runs do not collide.
const third = crypto.randomInt(0, 256);
const HOST_IP = `10.77.${third}.1`;
const HOME_IP = `10.77.${third}.2`;

const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: 'pipe' });
const inHome = (...args: string[]) => sh('ip', 'netns', 'exec', NS, ...args);

describe('a vault behind NAT', { timeout: 120_000 }, () => {
  let site: SiteProcess;
  let vault: VaultProcess;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test builds a network namespace: run the tests as root (CAP_NET_ADMIN), as CI does');
    sh('ip', 'netns', 'add', NS);
    sh('ip', 'link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', HOME_IF);
    sh('ip', 'link', 'set', HOME_IF, 'netns', NS);
    sh('ip', 'addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF);
    sh('ip', 'link', 'set', HOST_IF, 'up');
    inHome('ip', 'addr', 'add', `${HOME_IP}/30`, 'dev', HOME_IF);
    inHome('ip', 'link', 'set', HOME_IF, 'up');
    inHome('ip', 'link', 'set', 'lo', 'up');
    inHome('ip', 'route', 'add', 'default', 'via', HOST_IP);
    // The home router: replies to our own connections come in, nothing else does.
    inHome('iptables', '-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT');
    inHome('iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    inHome('iptables', '-P', 'INPUT', 'DROP');
    site = await SiteProcess.create(['alice', 'bob'], { publicHost: HOST_IP });
  });

  afterAll(async () => {
    await vault?.destroy();
    await site?.destroy();
    try {
      sh('ip', 'netns', 'del', NS);
    } catch {
      /* already gone */
    }
    try {
      sh('ip', 'link', 'del', HOST_IF);
    } catch {
      /* went with the namespace */
    }
  });

  it('nothing from outside can connect in, yet the vault pairs, dials out and syncs', async () => {
    // A listener inside home is unreachable from the backend's side: the firewall drops the SYN.
    const listener = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', "require('net').createServer((s) => s.end('in')).listen(4999, '0.0.0.0', () => console.log('up'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => listener.stdout!.once('data', resolve));
    try {
      const inbound = await fetch(`http://${HOME_IP}:4999`, { signal: AbortSignal.timeout(1500) }).then(
        () => 'connected',
        (error: Error) => error.name,
      );
      expect(inbound).toBe('TimeoutError');
      // ...while from inside, the listener answers (it runs, and only the inbound path is closed).
      expect(inHome(process.execPath, '-e', "require('net').connect(4999, '127.0.0.1').on('data', (d) => { process.stdout.write(d); process.exit(0); })").toString()).toBe('in');
    } finally {
      listener.kill();
    }

    const command = ['ip', 'netns', 'exec', NS, process.execPath, HEARTH];
    vault = await VaultProcess.pair(site, 'alice', { command, siteUrl: site.publicUrl });
    const bob = await DmSender.create(site, 'bob');
    const texts = Array.from({ length: 50 }, (_, i) => `behind the router ${i} ${crypto.randomUUID()}`);
    await bob.send(site.address('alice'), texts);
    await waitFor('the DMs queued for the vault', async () => ((await vaultStatus(site, 'alice')).waiting === 50 ? true : undefined));
    vault.start();
    await waitFor('the vault behind NAT to sync', async () => {
      const status = await vaultStatus(site, 'alice');
      return status.online && status.waiting === 0 ? status : undefined;
    }, 60_000);
    // The vault dialled the backend across the home link, not over loopback.
    expect(vault.log).toContain(`Connected to http://${HOST_IP}:${site.port}`);
    await vault.stop();
    const stored = await vault.messages();
    expect(new Set(stored.map((m) => m.text))).toEqual(new Set(texts));
  });
});
