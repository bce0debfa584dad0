import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { endProcess, tempDir, waitFor } from './sites.js';

/**
 * A test certificate authority on this machine (issue 12): Debian's Pebble (an ACME server made
 * for tests) and pebble-challtestsrv (a DNS server answering every name with one address). Pebble
 * checks challenges by resolving names through that DNS, so a site's certificate is issued exactly
 * as Let's Encrypt would issue it, with nothing leaving the machine.
 */
export class TestAcme {
  private readonly procs: ChildProcess[] = [];
  log = '';
  /** The PEM of the root that signs Pebble's own HTTPS listener (Caddy's acme_ca_root). */
  readonly listenerCa: string;
  /** The PEM of the root Pebble issues site certificates under (new at every start). */
  issuingRoot = '';

  private constructor(readonly dir: string, readonly ip: string) {
    this.listenerCa = path.join(dir, 'listener-ca.pem');
  }

  get directory(): string {
    return `https://${this.ip}:14000/dir`;
  }

  /** Starts the DNS (on `ip`:53, every name answered with `answer`) and Pebble (on `ip`:14000, challenges on ports 80 and 443). */
  static async start(ip: string, answer: string): Promise<TestAcme> {
    const acme = new TestAcme(tempDir('acme'), ip);
    acme.makeListenerCertificate();
    const config = path.join(acme.dir, 'pebble.json');
    fs.writeFileSync(config, JSON.stringify({ pebble: { listenAddress: `${ip}:14000`, managementListenAddress: `${ip}:15000`, certificate: path.join(acme.dir, 'listener.pem'), privateKey: path.join(acme.dir, 'listener.key'), httpPort: 80, tlsPort: 443, ocspResponderURL: '', externalAccountBindingRequired: false } }));
    acme.spawn('pebble-challtestsrv', ['-dns01', `${ip}:53`, '-defaultIPv4', answer, '-defaultIPv6', '', '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `${ip}:8055`]);
    acme.spawn('pebble', ['-config', config, '-dnsserver', `${ip}:53`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' });
    const ca = fs.readFileSync(acme.listenerCa);
    acme.issuingRoot = await waitFor('pebble to start', () => get(`https://${ip}:15000/roots/0`, ca).catch(() => undefined), 30_000, 100);
    fs.writeFileSync(path.join(acme.dir, 'issuing-root.pem'), acme.issuingRoot);
    return acme;
  }

  /** Makes the test DNS answer `host` with `address` (instead of the default answer). */
  async pointName(host: string, address: string): Promise<void> {
    const res = await fetch(`http://${this.ip}:8055/add-a`, { method: 'POST', body: JSON.stringify({ host: `${host}.`, addresses: [address] }) });
    if (!res.ok) throw new Error(`challtestsrv add-a: ${res.status}`);
  }

  get issuingRootFile(): string {
    return path.join(this.dir, 'issuing-root.pem');
  }

  private makeListenerCertificate(): void {
    const file = (name: string) => path.join(this.dir, name);
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('listener-ca.key'), '-out', this.listenerCa, '-days', '2', '-subj', '/CN=Hearth test listener CA');
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('listener.key'), '-out', file('listener.csr'), '-subj', '/CN=pebble');
    fs.writeFileSync(file('san.ext'), `subjectAltName=IP:${this.ip}\n`);
    openssl('x509', '-req', '-in', file('listener.csr'), '-CA', this.listenerCa, '-CAkey', file('listener-ca.key'), '-CAcreateserial', '-out', file('listener.pem'), '-days', '2', '-extfile', file('san.ext'));
  }

  private spawn(command: string, args: string[], env: Record<string, string> = {}): void {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    proc.stdout!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-20_000)));
    proc.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-20_000)));
    this.procs.push(proc);
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => endProcess(p, 'SIGTERM')));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function get(url: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}
