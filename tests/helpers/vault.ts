import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { certifiedDevices, encryptDm, newEnvelopeId, signDmPlaintext, type DeviceRecord, type DeviceSecrets } from '@hearth/protocol';
import { nodeX25519 } from '@hearth/protocol/node';
import { endProcess, HEARTH, ROOT, hearth, SiteProcess, tempDir, waitFor } from './sites.js';

const run = promisify(execFile);

export const VAULT_PASSPHRASE = 'correct horse battery staple';

/** A real `hearth vault start` process, with its folder and its output. */
export class VaultProcess {
  proc: ChildProcess | undefined;
  log = '';

  constructor(readonly dir: string, private readonly command: string[] = [process.execPath, HEARTH]) {}

  /** Pairs a new vault in a fresh folder with `user`'s site, using a code made by `hearth vault code`. */
  static async pair(site: SiteProcess, user: string, options: { command?: string[]; siteUrl?: string } = {}): Promise<VaultProcess> {
    const dir = tempDir(`vault-${user}`);
    const code = await pairingCode(site, user);
    const args = ['vault', 'pair', '--data', dir, '--site', options.siteUrl ?? site.url, '--code', code, '--password', SiteProcess.password(user)];
    if (options.command) {
      // Paired from where it will run (another network namespace, say).
      const [bin, ...prefix] = options.command;
      await run(bin!, [...prefix, ...args], { cwd: ROOT, timeout: 60_000, env: { ...process.env, HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE } });
    } else {
      await hearth(args, { env: { HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE } });
    }
    return new VaultProcess(dir, options.command);
  }

  start(): void {
    if (this.proc) throw new Error('vault already running');
    const [bin, ...args] = this.command;
    const proc = spawn(bin!, [...args, 'vault', 'start', '--data', this.dir], {
      cwd: ROOT,
      env: { ...process.env, HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.on('exit', () => {
      if (this.proc === proc) this.proc = undefined;
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await endProcess(this.proc, signal);
    this.proc = undefined;
  }

  async messages(withAddress?: string): Promise<Array<{ id: string; from: string; to: string; text: string }>> {
    const args = ['vault', 'messages', '--data', this.dir, '--json', ...(withAddress ? ['--with', withAddress] : [])];
    return (JSON.parse((await hearth(args, { env: { HEARTH_VAULT_PASSPHRASE: VAULT_PASSPHRASE } })).stdout) as { messages: Array<{ id: string; from: string; to: string; text: string }> }).messages;
  }

  fileBytes(): Buffer {
    return Buffer.concat(fs.readdirSync(this.dir).map((f) => fs.readFileSync(path.join(this.dir, f))));
  }

  destroy(): Promise<void> {
    return this.stop('SIGKILL').then(() => fs.rmSync(this.dir, { recursive: true, force: true }));
  }
}

export async function pairingCode(site: SiteProcess, user: string): Promise<string> {
  const res = await site.api('POST', '/api/vault/pairing-code', { as: user });
  if (res.status !== 201) throw new Error(`pairing code: ${JSON.stringify(res.body)}`);
  return res.body.code as string;
}

export async function vaultStatus(site: SiteProcess, user: string): Promise<{ paired: boolean; online?: boolean; waiting?: number; lastSeenAt?: string | null; deviceId?: string }> {
  return (await site.api('GET', '/api/vault', { as: user })).body;
}

/**
 * A device that sends many real DMs quickly: the keys of a `hearth login` profile, the
 * recipient's certified devices looked up once, node:crypto for the X25519 work, and several
 * POST /api/dms in flight. Each message is a genuine, individually encrypted and signed DM.
 */
export class DmSender {
  private constructor(
    private readonly site: SiteProcess,
    private readonly user: string,
    private readonly device: DeviceSecrets,
    private readonly myDevices: DeviceRecord[],
  ) {}

  static async create(site: SiteProcess, user: string): Promise<DmSender> {
    const profileDir = tempDir(`sender-${user}`);
    await hearth(['login', '--profile', profileDir, '--site', site.url, '--user', user, '--password', SiteProcess.password(user)]);
    const profile = JSON.parse(fs.readFileSync(path.join(profileDir, 'profile.json'), 'utf8')) as { device: DeviceSecrets; identity: { publicKey: string } };
    const me = (await site.api('GET', '/api/me', { as: user })).body as { address: string; devices: DeviceRecord[] };
    const mine = certifiedDevices({ address: me.address, identityKey: profile.identity.publicKey, devices: me.devices });
    return new DmSender(site, user, profile.device, mine);
  }

  private readonly peers = new Map<string, DeviceRecord[]>();

  /** Sends real DMs; the recipient's devices are looked up once, so sending works while their site is down. */
  async send(to: string, texts: string[], concurrency = 16): Promise<string[]> {
    if (!this.peers.has(to)) {
      const peer = (await this.site.api('GET', `/api/lookup?address=${encodeURIComponent(to)}`, { as: this.user })).body as { identityKey: string; devices: DeviceRecord[] };
      this.peers.set(to, certifiedDevices({ address: to, identityKey: peer.identityKey, devices: peer.devices }));
    }
    const targets = [...this.peers.get(to)!, ...this.myDevices];
    const from = this.site.address(this.user);
    const ids: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < texts.length) {
        const text = texts[next++]!;
        const plain = signDmPlaintext(this.device, { id: newEnvelopeId(), from, to, sentAt: new Date().toISOString(), text });
        const res = await this.site.api('POST', '/api/dms', { as: this.user, body: { to, message: encryptDm(plain, targets, undefined, nodeX25519) } });
        if (res.status !== 202) throw new Error(`POST /api/dms: ${res.status} ${JSON.stringify(res.body)}`);
        ids.push(res.body.id as string);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return ids;
  }
}

export { waitFor };
