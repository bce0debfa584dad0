import fs from 'node:fs';
import path from 'node:path';
import { coturnConfig, ensureTurnSettings, loadSiteConfig } from '@hearth/server';
import { CliError } from '../errors.js';

function port(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CliError(`${flag} must be a port number`, 2);
  return n;
}

/**
 * `hearth turn config`: the coturn configuration for a site (a fresh shared secret the first time,
 * kept in hearth.json). Prints it, or writes it where coturn reads it.
 */
export function turnConfig(options: { data: string; out?: string; port?: string; minPort?: string; maxPort?: string; externalIp?: string }): { text: string; file?: string } {
  const config = loadSiteConfig(path.resolve(options.data));
  const minPort = port(options.minPort, '--min-port');
  const maxPort = port(options.maxPort, '--max-port');
  if (minPort !== undefined && maxPort !== undefined && minPort > maxPort) throw new CliError('--min-port must not be above --max-port', 2);
  const turn = ensureTurnSettings(config, { port: port(options.port, '--port'), minPort, maxPort, externalIp: options.externalIp });
  const text = coturnConfig(config, turn);
  if (!options.out) return { text };
  const file = path.resolve(options.out);
  fs.writeFileSync(file, text, { mode: 0o600 });
  return { text, file };
}
