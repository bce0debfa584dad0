import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './sites.js';

/**
 * A throwaway PostgreSQL cluster from Debian's `postgresql` package: initdb in a temporary folder,
 * on a free loopback port, byte-order collation (as Hearth requires), no fsync (a test cluster).
 * As root the cluster runs as the `postgres` user, which PostgreSQL insists on.
 */
export interface TestPostgres {
  url: string;
  port: number;
  dir: string;
  /** Runs SQL through psql and returns the rows as JSON objects (synchronous, for assertions). */
  rows<T = Record<string, unknown>>(sql: string, options?: { schema?: string }): T[];
  stop(): void;
}

const BIN = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((dir) => fs.existsSync(path.join(dir, 'initdb')));

export function postgresAvailable(): boolean {
  return BIN !== undefined;
}

function asOwner(command: string, args: string[]): { file: string; args: string[] } {
  const root = process.getuid?.() === 0;
  return root ? { file: 'runuser', args: ['-u', 'postgres', '--', command, ...args] } : { file: command, args };
}

function run(command: string, args: string[]): string {
  const { file, args: full } = asOwner(command, args);
  const result = spawnSync(file, full, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${path.basename(command)} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  return result.stdout;
}

export async function startPostgres(): Promise<TestPostgres> {
  if (!BIN) throw new Error('PostgreSQL is not installed: run "sudo apt-get install postgresql" (the tests start their own cluster)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-pg-'));
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  run(path.join(BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--locale=C', '-E', 'UTF8', '--no-sync']);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      run(path.join(BIN, 'pg_ctl'), ['-D', data, '-w', '-t', '60', '-l', path.join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`, 'start']);
    } catch (error) {
      if (attempt < 3 && /already in use|could not bind/i.test(fs.readFileSync(path.join(dir, 'log'), 'utf8'))) continue;
      throw error;
    }
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return {
      url,
      port,
      dir,
      rows: <T>(sql: string, options: { schema?: string } = {}) => psqlRows<T>(port, sql, options.schema),
      stop: () => {
        try {
          run(path.join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  }
}

/** Rows of a query on the test cluster at `port`, in `schema` (psql, synchronous: for assertions). */
export function psqlRows<T = Record<string, unknown>>(port: number, sql: string, schema?: string): T[] {
  const result = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', `select coalesce(json_agg(t), '[]') from (${sql}) t`], {
    encoding: 'utf8',
    timeout: 30_000,
    // Some assertions read thousands of rows (a fan-out's envelopes): more than the default 1 MB.
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, ...(schema ? { PGOPTIONS: `-c search_path=${schema}` } : {}) },
  });
  if (result.status !== 0) throw new Error(`psql: ${result.stderr || result.error?.message || `exit ${result.status ?? result.signal}`}`);
  return JSON.parse(result.stdout.trim() || '[]') as T[];
}

/** Runs a statement (a write) in `schema` on the test cluster at `port`. */
export function psqlExecute(port: number, sql: string, schema: string): void {
  const result = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, PGOPTIONS: `-c search_path=${schema}` },
  });
  if (result.status !== 0) throw new Error(`psql: ${result.stderr || result.error?.message || `exit ${result.status ?? result.signal}`}`);
}

/** Removes a test site's schema and everything in it. */
export function dropSchema(port: number, schema: string): void {
  const result = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `drop schema if exists ${schema} cascade`], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) throw new Error(`psql: ${result.stderr}`);
}

/** Everything in a schema as SQL text (pg_dump): for "the plaintext is not in here" checks. */
export function dumpSchema(port: number, schema: string): Buffer {
  const result = spawnSync('pg_dump', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-n', schema, 'postgres'], { timeout: 60_000, maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`pg_dump: ${result.stderr.toString()}`);
  return result.stdout;
}

/** The run's PostgreSQL cluster when tests run on that dialect (HEARTH_TEST_DATABASE=postgres), else undefined. */
export function runPostgres(): { url: string; port: number } | undefined {
  const url = process.env.HEARTH_TEST_PG_URL;
  return url ? { url, port: Number(new URL(url).port) } : undefined;
}

/** A SQL literal for psql: numbers as they are, everything else as a quoted string. */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return `'${String(value).replace(/'/g, "''")}'`;
}

/** SQL written with `?` placeholders (as the SQLite tests do) with the values put in. */
export function inlineParams(sql: string, params: unknown[]): string {
  let i = 0;
  return sql.replace(/\?/g, () => sqlLiteral(params[i++]));
}
