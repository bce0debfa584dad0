import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { endProcess, fetchApi, freePort, HEARTH, hearth, ROOT, SiteProcess, tempDir, waitFor, type ApiResult } from './sites.js';

/** One site of a hosting service, reached by its own host name (a loopback address) on the service's port. */
export class ServiceSite {
  private readonly tokens = new Map<string, string>();

  constructor(readonly domain: string, readonly port: number, readonly dataDir: string) {}

  get url(): string {
    return `http://${this.domain}:${this.port}`;
  }

  address(user: string): string {
    return `${user}@${this.domain}:${this.port}`;
  }

  async token(user: string): Promise<string> {
    let token = this.tokens.get(user);
    if (!token) {
      const res = await this.api('POST', '/api/auth/login', { body: { username: user, password: SiteProcess.password(user) } });
      if (res.status !== 200) throw new Error(`login ${user} at ${this.domain} failed: ${JSON.stringify(res.body)}`);
      token = res.body.token as string;
      this.tokens.set(user, token);
    }
    return token;
  }

  async api<T = any>(method: string, urlPath: string, options: { as?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token ?? (options.as ? await this.token(options.as) : undefined);
    if (token) headers.authorization = `Bearer ${token}`;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    return fetchApi<T>(`${this.url}${urlPath}`, method, headers, body);
  }
}

/** A real `hearth service start` process with its folder, on a free port, serving its sites by Host. */
export class ServiceProcess {
  proc: ChildProcess | undefined;
  log = '';

  private constructor(readonly dataDir: string, readonly port: number) {}

  /** A dev service whose sites are the given loopback addresses, each with the given users. */
  static async create(sites: Record<string, string[]>, settings: Record<string, unknown> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    const dataDir = tempDir('service');
    await hearth(['service', 'init', '--data', dataDir, '--dev', '--port', String(port)]);
    // Settings of service.json beyond what init writes (scheduled backups, say).
    const file = path.join(dataDir, 'service.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ...settings }, null, 2));
    const service = new ServiceProcess(dataDir, port);
    for (const [domain, users] of Object.entries(sites)) await service.add(domain, users);
    await service.start();
    return service;
  }

  async add(domain: string, users: string[]): Promise<ServiceSite> {
    const [first, ...rest] = users;
    await hearth(['service', 'add', domain, '--data', this.dataDir, '--user', first!, '--password', SiteProcess.password(first!)]);
    const site = this.site(domain);
    for (const user of rest) await hearth(['user', 'add', '--data', site.dataDir, '--user', user, '--password', SiteProcess.password(user)]);
    return site;
  }

  site(domain: string): ServiceSite {
    return new ServiceSite(domain, this.port, path.join(this.dataDir, 'sites', domain));
  }

  async start(): Promise<void> {
    const proc = spawn(process.execPath, [HEARTH, 'service', 'start', '--data', this.dataDir, '--host', '0.0.0.0', '--port', String(this.port), '--log-level', process.env.HEARTH_TEST_LOG_LEVEL ?? 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await waitFor(`service on port ${this.port}`, async () => {
      if (proc.exitCode !== null) throw new Error(`the service exited: ${this.log}`);
      const res = await fetch(`http://127.0.0.1:${this.port}/.hearth-service/health`).catch(() => undefined);
      return res?.ok;
    }, 60_000, 100);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await endProcess(this.proc, signal);
    this.proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
