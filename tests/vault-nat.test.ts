import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEARTH, SiteProcess, waitFor } from './helpers/sites.js';
import { TestNetwork } from './helpers/netns.js';
import { DmSender, VaultProcess, vaultStatus } from './helpers/vault.js';

/**
 * The vault behind NAT: it runs in a network namespace of its own ("home") joined to this host by
 * a veth pair. Home has a route out to the backend, and a firewall that drops every connection
 * started from outside (only replies to its own connections get in), as a home router does.
 * The vault still pairs and syncs, because it only ever dials out.
 */
describe('a vault behind NAT', { timeout: 120_000 }, () => {
  let site: SiteProcess;
  let vault: VaultProcess;
  let home: TestNetwork;
  let HOST_IP: string;
  let HOME_IP: string;

  beforeAll(async () => {
    home = TestNetwork.create('home');
    // The home router: replies to our own connections come in, nothing else does.
    home.dropInbound();
    [HOST_IP, HOME_IP] = [home.hostIp, home.innerIp];
    site = await SiteProcess.create(['alice', 'bob'], { publicHost: HOST_IP });
  });

  afterAll(async () => {
    await vault?.destroy();
    await site?.destroy();
    home?.destroy();
  });

  it('nothing from outside can connect in, yet the vault pairs, dials out and syncs', async () => {
    // A listener inside home is unreachable from the backend's side: the firewall drops the SYN.
    const listener = spawn('ip', [...home.prefix.slice(1), process.execPath, '-e', "require('net').createServer((s) => s.end('in')).listen(4999, '0.0.0.0', () => console.log('up'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => listener.stdout!.once('data', resolve));
    try {
      const inbound = await fetch(`http://${HOME_IP}:4999`, { signal: AbortSignal.timeout(1500) }).then(
        () => 'connected',
        (error: Error) => error.name,
      );
      expect(inbound).toBe('TimeoutError');
      // ...while from inside, the listener answers (it runs, and only the inbound path is closed).
      expect(home.exec(process.execPath, '-e', "require('net').connect(4999, '127.0.0.1').on('data', (d) => { process.stdout.write(d); process.exit(0); })").toString()).toBe('in');
    } finally {
      listener.kill();
    }

    const command = [...home.prefix, process.execPath, HEARTH];
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
