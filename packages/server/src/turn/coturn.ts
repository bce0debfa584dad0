import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '@hearth/protocol';
import type { Logger } from 'pino';
import type { SiteConfig } from '../site-config.js';
import { coturnConfig, ensureTurnSettings } from './turn.js';

export const COTURN_BINARY = process.env.HEARTH_TURNSERVER ?? 'turnserver';

export class CoturnMissing extends HearthError {
  constructor() {
    super('coturn_missing', 'coturn is not installed, so this site cannot relay calls: install it (Debian: apt-get install coturn), or start without --turn', { status: 500 });
  }
}

function findExecutable(name: string): string | undefined {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '/usr/bin:/bin').split(':').map((dir) => path.join(dir, name));
  return candidates.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * A coturn left running by a site that was killed (kill -9 gives it no chance to stop coturn)
 * would hold the TURN port: stop it, but only if the pid really is a turnserver.
 */
async function stopLeftover(pidFile: string, log: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  try {
    if (!Number.isInteger(pid) || pid <= 1 || !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('turnserver')) return;
    process.kill(pid, 'SIGTERM');
    log.warn({ pid }, 'stopped a coturn left running by an earlier run of this site');
  } catch {
    return; // not running any more
  }
  for (let i = 0; i < 40 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * Before the site loads its settings: checks that coturn is installed (so a site without it keeps
 * its settings as they were), adds TURN settings to hearth.json if missing, writes coturn's config.
 */
export function prepareCoturn(config: SiteConfig): { configFile: string; port: number } {
  if (!findExecutable(COTURN_BINARY)) throw new CoturnMissing();
  const turn = ensureTurnSettings(config);
  const configFile = path.join(config.dataDir, 'turnserver.conf');
  fs.writeFileSync(configFile, coturnConfig(config, turn), { mode: 0o600 });
  return { configFile, port: turn.port };
}

/** Starts coturn beside the site; resolves once it runs, fails clearly if it cannot. */
export async function startCoturn(config: SiteConfig, prepared: { configFile: string; port: number }, log: Logger): Promise<{ stop: () => Promise<void> }> {
  const { configFile } = prepared;
  await stopLeftover(path.join(config.dataDir, 'turnserver.pid'), log);
  const proc: ChildProcess = spawn(COTURN_BINARY, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  await new Promise<void>((resolve, reject) => {
    proc.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? new CoturnMissing() : error));
    proc.once('exit', (code) => reject(new HearthError('coturn_failed', `coturn exited at start (code ${code}): ${stderr.trim() || `see ${path.join(config.dataDir, 'turnserver.log')}`}`, { status: 500 })));
    // coturn has no readiness signal; it fails fast on a bad config or a taken port.
    setTimeout(resolve, 300);
  });
  proc.removeAllListeners('exit');
  proc.once('exit', (code, signal) => {
    if (signal !== 'SIGTERM') log.error({ code, signal }, 'coturn stopped; calls that need a relay will fail');
  });
  log.info({ port: prepared.port }, 'coturn (TURN relay) started');
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
