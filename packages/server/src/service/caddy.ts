import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '@hearth/protocol';
import type { Logger } from 'pino';
import { SERVICE_PREFIX } from './host.js';
import type { ServiceConfig } from './service-config.js';

export const CADDY_BINARY = process.env.HEARTH_CADDY ?? 'caddy';

/** Where certificates come from: Let's Encrypt unless the service names another ACME directory (a test CA). */
export interface AcmeSettings {
  /** The ACME directory URL (default: Let's Encrypt's production directory). */
  directory?: string;
  /** A PEM file with the root that signs the ACME server's own HTTPS certificate (a test CA's). */
  caRoot?: string;
  /** The address the CA may write to about expiring certificates. */
  email?: string;
}

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';

/** A Caddyfile string value, quoted; no newline or brace can end the directive early. */
function quoted(value: string): string {
  if (/[\r\n{}"`]/.test(value)) throw new HearthError('invalid_request', `"${value}" cannot go into a Caddyfile`, { status: 400 });
  return `"${value}"`;
}

/**
 * The Caddyfile for a service (issue 12): Caddy terminates TLS for every site and proxies to the
 * service on loopback, keeping the Host header. Certificates are issued on demand, at a site's
 * first visit, and only after Caddy has asked the service whether the name is one of its sites,
 * so nobody can make the vendor request certificates for arbitrary names. HTTP redirects to HTTPS
 * (and answers the CA's HTTP challenges, which Caddy handles before any site block).
 */
export function caddyfile(config: ServiceConfig, options: { backendPort: number; acme?: AcmeSettings; httpPort?: number; httpsPort?: number }): string {
  const backend = `127.0.0.1:${options.backendPort}`;
  const acme = options.acme ?? {};
  const global = [
    '\t# Written by `hearth service caddyfile`; changes here are replaced the next time.',
    '\tadmin off',
    '\tstorage file_system {',
    `\t\troot ${quoted(path.join(config.dataDir, 'caddy'))}`,
    '\t}',
    ...(options.httpPort ? [`\thttp_port ${options.httpPort}`] : []),
    ...(options.httpsPort ? [`\thttps_port ${options.httpsPort}`] : []),
    `\tacme_ca ${quoted(acme.directory ?? LETS_ENCRYPT)}`,
    ...(acme.caRoot ? [`\tacme_ca_root ${quoted(acme.caRoot)}`] : []),
    ...(acme.email ? [`\temail ${quoted(acme.email)}`] : []),
    '\ton_demand_tls {',
    `\t\task http://${backend}${SERVICE_PREFIX}tls-allowed`,
    '\t}',
  ];
  return [
    '{',
    ...global,
    '}',
    '',
    'https:// {',
    '\ttls {',
    '\t\ton_demand',
    '\t}',
    `\treverse_proxy ${backend}`,
    '}',
    '',
    'http:// {',
    '\tredir https://{host}{uri} permanent',
    '}',
    '',
  ].join('\n');
}

export class CaddyMissing extends HearthError {
  constructor() {
    super('caddy_missing', 'Caddy is not installed, so the service cannot serve HTTPS by itself: install it (Debian: apt-get install caddy), or start without --caddy and put your own TLS proxy in front', { status: 500 });
  }
}

/** Writes the Caddyfile into the service folder and starts Caddy with it; resolves once Caddy runs. */
export async function startCaddy(config: ServiceConfig, text: string, log: Logger): Promise<{ file: string; stop: () => Promise<void> }> {
  const file = path.join(config.dataDir, 'Caddyfile');
  fs.writeFileSync(file, text, { mode: 0o600 });
  const proc: ChildProcess = spawn(CADDY_BINARY, ['run', '--config', file, '--adapter', 'caddyfile'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: config.dataDir, XDG_DATA_HOME: path.join(config.dataDir, 'caddy'), XDG_CONFIG_HOME: path.join(config.dataDir, 'caddy') } });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
  });
  await new Promise<void>((resolve, reject) => {
    proc.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? new CaddyMissing() : error));
    proc.once('exit', (code) => reject(new HearthError('caddy_failed', `Caddy exited at start (code ${code}): ${lastLines(stderr)}`, { status: 500 })));
    // Caddy logs "serving initial configuration" once its listeners are up.
    const ready = () => {
      if (stderr.includes('serving initial configuration')) resolve();
    };
    proc.stderr!.on('data', ready);
  });
  proc.removeAllListeners('exit');
  proc.once('exit', (code, signal) => {
    if (signal !== 'SIGTERM') log.error({ code, signal, caddy: lastLines(stderr) }, 'Caddy stopped: the sites are not served over HTTPS');
  });
  log.info({ file }, 'Caddy (HTTPS) started');
  return {
    file,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join('\n');
}
