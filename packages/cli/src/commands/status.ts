import path from 'node:path';
import { Context, diskSpace, loadSiteConfig } from '@hearth/server';
import { CliError } from '../errors.js';


/**
 * `hearth status`: is the site answering, is its disk full, is anything queued or failed.
 * Reads the data folder and asks the running site's /healthz; exits non-zero when something
 * needs the operator (not answering, disk full, database damaged).
 */
export async function siteStatus(options: { data: string }, out: (line: string) => void): Promise<void> {
  const dataDir = path.resolve(options.data);
  const config = loadSiteConfig(dataDir);
  const problems: string[] = [];

  let health: { ok?: boolean; storage?: string; message?: string } | undefined;
  try {
    const res = await fetch(`${config.origin}/healthz`, { signal: AbortSignal.timeout(3000) });
    health = (await res.json()) as typeof health;
  } catch {
    health = undefined;
  }
  if (!health) {
    out(`Site ${config.origin}: not answering (is it started? hearth start --data ${options.data})`);
    problems.push('not answering');
  } else {
    out(`Site ${config.origin}: answering; storage ${health.storage ?? 'ok'}${health.message ? ` (${health.message})` : ''}`);
    if (health.storage && health.storage !== 'ok') problems.push(`storage ${health.storage}`);
  }

  const { free, low: full } = diskSpace(dataDir);
  out(`Disk of ${dataDir}: ${(free / 1024 / 1024).toFixed(1)} MB free${full ? ' (FULL: writes are refused until there is room; free some space)' : ''}`);
  if (full && !problems.includes('storage full')) problems.push('disk full');

  try {
    const ctx = await Context.open({ config, logLevel: 'silent' });
    try {
      const rows = await ctx.db.selectFrom('outbox').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
      const count = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0);
      out(`Outbox: ${count('pending')} envelope(s) waiting to be delivered, ${count('failed')} given up on`);
    } finally {
      await ctx.close();
    }
  } catch (error) {
    out(`Database: could not be read (${(error as Error).message})`);
    problems.push('database unreadable');
  }
  if (problems.length > 0) throw new CliError(`needs attention: ${problems.join(', ')}`, 1);
}
