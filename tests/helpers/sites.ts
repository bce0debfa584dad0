import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openDatabase, type TestDb } from './sqlite.js';
import { dropSchema, dumpSchema, inlineParams, psqlExecute, psqlRows, runPostgres } from './postgres.js';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const HEARTH = path.join(ROOT, 'packages/cli/bin/hearth.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `count` consecutive free ports (for the demo, which takes base, base+1, base+2). */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base + count > 65535) continue;
    const free = await Promise.all(
      Array.from({ length: count - 1 }, (_, i) =>
        new Promise<boolean>((resolve) => {
          const server = net.createServer();
          server.once('error', () => resolve(false));
          server.listen(base + i + 1, '127.0.0.1', () => server.close(() => resolve(true)));
        }),
      ),
    );
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no run of ${count} free ports`);
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `hearth-${prefix}-`));
}

/** Runs the real `hearth` command; resolves with its output, rejects with stderr on failure. */
export async function hearth(args: string[], options: { allowFailure?: boolean; env?: Record<string, string>; input?: string } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const running = run(process.execPath, [HEARTH, ...args], { cwd: ROOT, timeout: 60_000, env: { ...process.env, ...options.env } });
    // What the command reads from standard input (a pipe), when given.
    if (options.input !== undefined) running.child.stdin?.end(options.input);
    const { stdout, stderr } = await running;
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; code?: number };
    if (!options.allowFailure) throw new Error(`hearth ${args.join(' ')} failed (${e.code}): ${e.stderr}`);
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** Sends a signal to a child process (if it runs) and waits until it has exited. */
/** One request to a site's API: the answer's status, its JSON body (or text), and its headers. */
export async function fetchApi<T = any>(url: string, method: string, headers: Record<string, string>, body: string | undefined): Promise<ApiResult<T>> {
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* keep text */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export async function endProcess(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  await exited;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface SiteOptions {
  start?: boolean;
  production?: boolean;
  publicHost?: string;
  turn?: boolean;
  dataDir?: string;
  env?: Record<string, string>;
  /** 'sqlite': the embedded default even on the PostgreSQL pass of the tests. */
  database?: 'sqlite';
  /** Run the site inside this network namespace, at this address (a TestNetwork's prefix and innerIp). */
  netns?: { prefix: string[]; ip: string };
}

export interface ApiResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A real site: its own data folder, a `hearth start` child process, a loopback port. */
export class SiteProcess {
  proc: ChildProcess | undefined;
  log = '';
  readonly tokens = new Map<string, string>();

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    readonly users: string[],
    readonly production = false,
    /** A site on another interface than loopback (network-namespace tests): its URL's host; it listens on all interfaces. */
    readonly publicHost?: string,
    /** Extra `hearth start` flags (--turn). */
    readonly startArgs: string[] = [],
    /** Extra environment for the site process (a fake clock, for instance). */
    readonly env: Record<string, string> = {},
    /** A network namespace the site runs in (its own host on a test network): the command prefix and its address. */
    readonly netns?: { prefix: string[]; ip: string },
    /** One instance of a site with several (docs/SCALING.md): the port it listens on; `port` is the site's, at the load balancer. */
    readonly listenPort?: number,
  ) {}

  /**
   * One instance of a site served by several behind a load balancer: the site's data folder (a
   * copy of its hearth.json), the port in its URL (the balancer's) and the port this instance
   * listens on, which `url` reaches directly.
   */
  static instanceOf(dataDir: string, sitePort: number, listenPort: number, users: string[]): SiteProcess {
    return new SiteProcess(dataDir, sitePort, users, false, undefined, [], {}, undefined, listenPort);
  }

  /** Where tests reach the process (plain http on loopback, as behind a TLS-terminating proxy). */
  get url(): string {
    if (this.listenPort) return `http://127.0.0.1:${this.listenPort}`;
    return this.netns ? `http://${this.netns.ip}:${this.port}` : `http://127.0.0.1:${this.port}`;
  }

  get host(): string {
    return this.production ? 'hearth.test' : `${this.publicHost ?? '127.0.0.1'}:${this.port}`;
  }

  /** The site's own URL, as other machines reach it. */
  get publicUrl(): string {
    return this.production ? 'https://hearth.test' : `http://${this.host}`;
  }

  address(user: string): string {
    return `${user}@${this.host}`;
  }

  static password(user: string): string {
    return `${user}-secret-pw`;
  }

  /**
   * Creates the site with `hearth init` (+ `hearth user add`) and starts it. A free port can be
   * taken by another process between the look and the listen (the machine is shared): the site
   * is then made again on another port, up to three times.
   */
  static async create(users: string[], options: SiteOptions = {}): Promise<SiteProcess> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await SiteProcess.createOnce(users, options);
      } catch (error) {
        const taken = /port is already in use|EADDRINUSE/.test((error as Error).message);
        if (!taken || attempt === 3 || options.dataDir) throw error;
      }
    }
  }

  private static async createOnce(users: string[], options: SiteOptions): Promise<SiteProcess> {
    const port = await freePort();
    if (options.netns) options = { ...options, publicHost: options.netns.ip };
    const dataDir = options.dataDir ?? tempDir(users[0]!);
    const [first, ...rest] = users;
    // A production site has a public https URL and no dev mode: every outbound fetch is SSRF-guarded.
    const site_ = options.production ? ['--url', 'https://hearth.test'] : ['--url', `http://${options.publicHost ?? '127.0.0.1'}:${port}`, '--dev'];
    // On the PostgreSQL pass of the tests, each site gets a schema of its own in the run's cluster.
    const pg = runPostgres();
    const database = pg && !options.dataDir && options.database !== 'sqlite' ? ['--database', pg.url, '--database-schema', `t_${randomBytes(6).toString('hex')}`] : [];
    await hearth(['init', '--data', dataDir, ...site_, '--user', first!, '--password', SiteProcess.password(first!), ...database]);
    for (const user of rest) await hearth(['user', 'add', '--data', dataDir, '--user', user, '--password', SiteProcess.password(user)]);
    if (options.turn) {
      // The site's own coturn on a free port, relaying on a small range of ports of its own.
      const turnPort = await freePort();
      const relayBase = 40000 + Math.floor(Math.random() * 200) * 100;
      await hearth(['turn', 'config', '--data', dataDir, '--port', String(turnPort), '--min-port', String(relayBase), '--max-port', String(relayBase + 99)]);
    }
    const site = new SiteProcess(dataDir, port, users, options.production, options.publicHost, options.turn ? ['--turn'] : [], options.env ?? {}, options.netns);
    if (options.start !== false) await site.start();
    return site;
  }

  async start(): Promise<void> {
    if (this.proc) throw new Error('already running');
    // A production site listens behind its (imagined) TLS proxy: its URL is https://hearth.test.
    const listen = ['--host', this.publicHost ? '0.0.0.0' : '127.0.0.1', '--port', String(this.listenPort ?? this.port)];
    // In a network namespace, `ip netns exec` runs node in place (exec), so signals reach the site itself.
    const [bin, ...prefix] = [...(this.netns?.prefix ?? []), process.execPath];
    const proc = spawn(bin!, [...prefix, HEARTH, 'start', '--data', this.dataDir, '--log-level', process.env.HEARTH_TEST_LOG_LEVEL ?? 'warn', ...listen, ...this.startArgs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.env } });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.on('exit', () => {
      if (this.proc === proc) this.proc = undefined;
    });
    await waitFor(`site ${this.url} to start`, async () => {
      if (!this.proc) throw new Error(`site exited: ${this.log}`);
      const res = await fetch(`${this.url}/healthz`).catch(() => undefined);
      return res?.ok;
    });
    this.tokens.clear();
  }

  /** Ends the process with a signal and waits for it to be gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await endProcess(this.proc, signal);
    this.proc = undefined;
  }

  signal(signal: NodeJS.Signals): void {
    this.proc?.kill(signal);
  }

  async token(user: string): Promise<string> {
    let token = this.tokens.get(user);
    if (!token) {
      const res = await this.api('POST', '/api/auth/login', { body: { username: user, password: SiteProcess.password(user) } });
      if (res.status !== 200) throw new Error(`login ${user} failed: ${JSON.stringify(res.body)}`);
      token = res.body.token as string;
      this.tokens.set(user, token);
    }
    return token;
  }

  async api<T = any>(method: string, urlPath: string, options: { as?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.as) headers.authorization = `Bearer ${await this.token(options.as)}`;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    return fetchApi<T>(`${this.url}${urlPath}`, method, headers, body);
  }

  private reader: TestDb | undefined;

  /** The site's PostgreSQL schema, when its data is there (from hearth.json). */
  get postgresSchema(): string | undefined {
    return (JSON.parse(fs.readFileSync(path.join(this.dataDir, 'hearth.json'), 'utf8')) as { database?: { schema?: string } }).database?.schema;
  }

  /**
   * Read-only SQL on the live database (WAL lets a reader run beside the site); on PostgreSQL,
   * through psql in the site's schema. Write it in the SQL both share, with `?` placeholders.
   */
  query<T = any>(sql: string, ...params: unknown[]): T[] {
    const schema = this.postgresSchema;
    const pg = runPostgres();
    if (schema && pg) return psqlRows<T>(pg.port, inlineParams(sql, params), schema);
    this.reader ??= openDatabase(path.join(this.dataDir, 'hearth.db'), { readonly: true });
    return this.reader.all<T>(sql, ...params);
  }

  /** A write straight into the database, behind the site's back (for tests of what a tampered store does). */
  execute(sql: string, ...params: unknown[]): void {
    const schema = this.postgresSchema;
    const pg = runPostgres();
    if (schema && pg) return psqlExecute(pg.port, inlineParams(sql, params), schema);
    const db = openDatabase(path.join(this.dataDir, 'hearth.db'));
    try {
      db.run(sql, ...params);
    } finally {
      db.close();
    }
  }

  count(sql: string, ...params: unknown[]): number {
    return Number(Object.values(this.query<Record<string, number>>(sql, ...params)[0] ?? { n: 0 })[0]);
  }

  /** Every byte of the site's database files, for "the plaintext is not in here" checks. */
  databaseBytes(): Buffer {
    const schema = this.postgresSchema;
    const pg = runPostgres();
    if (schema && pg) return dumpSchema(pg.port, schema);
    return Buffer.concat(
      fs
        .readdirSync(this.dataDir)
        .filter((f) => f.startsWith('hearth.db'))
        .map((f) => fs.readFileSync(path.join(this.dataDir, f))),
    );
  }

  siteConfig(): { serverKey: { publicKey: string; secretKey: string } } {
    return JSON.parse(fs.readFileSync(path.join(this.dataDir, 'hearth.json'), 'utf8'));
  }

  siteKeyOf(user: string): { publicKey: string; secretKey: string } {
    const row = this.query<{ site_public_key: string; site_secret_key: string }>('select site_public_key, site_secret_key from users where username = ?', user)[0];
    if (!row) throw new Error(`no user ${user}`);
    return { publicKey: row.site_public_key, secretKey: row.site_secret_key };
  }

  async destroy(): Promise<void> {
    // A site with --turn stops its coturn on SIGTERM; SIGKILL would leave coturn running.
    await this.stop(this.startArgs.includes('--turn') ? 'SIGTERM' : 'SIGKILL');
    this.reader?.close();
    const schema = this.postgresSchema;
    const pg = runPostgres();
    if (schema && pg) dropSchema(pg.port, schema);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A user's open page's live events (/api/live), as the web app hears them; `keep` picks which are recorded. */
export async function openLive(site: { url: string; token(user: string): Promise<string> }, user: string, keep: (event: any) => boolean = () => true): Promise<{ events: any[]; close: () => void }> {
  const token = await site.token(user);
  const socket = new WebSocket(`${site.url.replace('http', 'ws')}/api/live`);
  const events: any[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ token })));
    socket.on('message', (data: Buffer) => {
      const event = JSON.parse(data.toString());
      if (event.type === 'ready') resolve();
      else if (keep(event)) events.push(event);
    });
    socket.once('error', reject);
  });
  return { events, close: () => socket.close() };
}
