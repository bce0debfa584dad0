import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HearthError, isReservedUsername, isValidUsername } from '@hearth/protocol';
import { CONFIG_FILE, Context, createSiteConfig, databaseUrlFromEnv, redactUrl, createUser, findUser, loadSiteConfig, MIN_PASSWORD_LENGTH, normalizeSiteUrl, rotateSiteKey, siteExists, startSite, type RunningSite } from '@hearth/server';
import { CliError } from '../errors.js';
import { Prompter } from '../prompt.js';

export function checkUsername(name: string): string | null {
  if (isValidUsername(name) && isReservedUsername(name)) return 'names starting with _ are kept for the site itself';
  return isValidUsername(name) ? null : 'use 1 to 32 of a-z, 0-9 and _';
}

export function checkPassword(pw: string): string | null {
  return pw.length >= MIN_PASSWORD_LENGTH ? null : `use at least ${MIN_PASSWORD_LENGTH} characters`;
}

function checkUrl(dev: boolean) {
  return (url: string): string | null => {
    try {
      normalizeSiteUrl(url, dev);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  };
}

export interface InitOptions {
  data?: string;
  url?: string;
  user?: string;
  password?: string;
  displayName?: string;
  dev?: boolean;
  database?: string;
  databaseSchema?: string;
}

/** Creates a site; asks on the terminal for whatever flags are missing. */
export async function initSite(options: InitOptions, prompter = new Prompter()): Promise<{ dataDir: string; url: string; user: string; storage?: string }> {
  try {
    const dataDir = path.resolve(options.data ?? (await prompter.ask('Data folder', { flag: '--data', defaultValue: './data' })));
    if (siteExists(dataDir)) throw new CliError(`${dataDir} already holds a site; use "hearth user add" to add a user, or choose another folder`);
    const dev = Boolean(options.dev);
    const url = options.url ?? (await prompter.ask('Public URL of the site', { flag: '--url', defaultValue: 'http://127.0.0.1:4000', validate: checkUrl(dev) }));
    const urlProblem = checkUrl(dev)(url);
    if (urlProblem) throw new CliError(urlProblem, 2);
    const user = options.user ?? (await prompter.ask('Your username', { flag: '--user', validate: checkUsername }));
    if (checkUsername(user)) throw new CliError(`--user: ${checkUsername(user)}`, 2);
    const password = options.password ?? (await prompter.ask('Password', { flag: '--password', secret: true, validate: checkPassword }));
    if (checkPassword(password)) throw new CliError(`--password: ${checkPassword(password)}`, 2);
    if (options.databaseSchema && !options.database && !databaseUrlFromEnv()) throw new CliError('--database-schema needs --database (or HEARTH_DATABASE_URL)', 2);
    if (options.database && !/^postgres(ql)?:\/\//.test(options.database)) throw new CliError('--database: give a postgres:// URL, e.g. postgres://hearth:secret@127.0.0.1/hearth', 2);
    const database = options.database || options.databaseSchema ? { url: options.database ?? databaseUrlFromEnv()!, ...(options.databaseSchema ? { schema: options.databaseSchema } : {}) } : undefined;
    const config = createSiteConfig(dataDir, { url, dev, database });
    try {
      const ctx = await Context.open({ config, logLevel: 'warn' });
      try {
        await createUser(ctx.db, { username: user, password, displayName: options.displayName }, Date.now());
      } finally {
        await ctx.close();
      }
    } catch (error) {
      // Nothing half-made stays behind: the same command can be run again once the database answers.
      fs.rmSync(path.join(dataDir, CONFIG_FILE), { force: true });
      throw error;
    }
    const storage = config.storage.kind === 'postgres' ? `PostgreSQL ${redactUrl(config.storage.url)}, schema ${config.storage.schema}` : undefined;
    return { dataDir, url: config.origin, user, ...(storage ? { storage } : {}) };
  } finally {
    prompter.close();
  }
}

export async function addUser(options: { data: string; user: string; password: string; displayName?: string }): Promise<void> {
  if (checkUsername(options.user)) throw new CliError(`--user: ${checkUsername(options.user)}`, 2);
  if (checkPassword(options.password)) throw new CliError(`--password: ${checkPassword(options.password)}`, 2);
  const config = loadSiteConfig(path.resolve(options.data));
  const ctx = await Context.open({ config, logLevel: 'warn' });
  try {
    if (await findUser(ctx.db, options.user)) throw new CliError(`user ${options.user} already exists on this site`);
    await createUser(ctx.db, { username: options.user, password: options.password, displayName: options.displayName }, Date.now());
  } finally {
    await ctx.close();
  }
}

export async function rotateUserKey(options: { data: string; user: string }): Promise<{ publicKey: string; previous: string; resigned: number }> {
  const config = loadSiteConfig(path.resolve(options.data));
  const ctx = await Context.open({ config, logLevel: 'warn' });
  try {
    if (!(await findUser(ctx.db, options.user))) throw new CliError(`there is no user ${options.user} on this site`);
    return await rotateSiteKey(ctx.db, ctx.site, options.user, Date.now());
  } finally {
    await ctx.close();
  }
}

/**
 * The built web app (packages/web/dist), found from where this code runs: the bundle lives in
 * packages/cli/dist/, the compiled modules in packages/cli/dist/commands/.
 */
export function findWebDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../web/dist', '../../../web/dist']) {
    const dir = path.resolve(here, up);
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

export async function runSite(options: { data: string; host?: string; port?: string; logLevel?: string; turn?: boolean }): Promise<RunningSite> {
  try {
    const listenPort = options.port === undefined ? undefined : Number(options.port);
    if (listenPort !== undefined && (!Number.isInteger(listenPort) || listenPort < 1 || listenPort > 65535)) throw new CliError('--port must be a port number', 2);
    return await startSite({ dataDir: path.resolve(options.data), listenHost: options.host, listenPort, logLevel: options.logLevel, webDir: findWebDir(), turn: options.turn });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`the port is already in use: is another site running? (${(error as Error).message})`);
    if (code === 'EACCES') throw new CliError(`not allowed to listen there: ports below 1024 need privileges (${(error as Error).message})`);
    if (error instanceof HearthError) throw new CliError(error.message);
    throw error;
  }
}
