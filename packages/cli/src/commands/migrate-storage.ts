import fs from 'node:fs';
import path from 'node:path';
import {
  CONFIG_FILE,
  databaseUrlFromEnv,
  DB_FILE,
  defaultSchemaFor,
  loadServiceConfig,
  loadSiteConfig,
  moveSqliteToPostgres,
  openRegistry,
  PostgresSiteRegistry,
  REGISTRY_FILE,
  redactUrl,
  runningProcess,
  serviceExists,
  serviceSiteDir,
  siteExists,
  updateServiceConfig,
  updateSiteConfigFile,
} from '@hearth/server';
import { CliError } from '../errors.js';

/** What the SQLite file is renamed to once its data is in PostgreSQL: kept, until its owner deletes it. */
export const MOVED_SUFFIX = '.moved-to-postgres';

export interface MigrateStorageOptions {
  data?: string;
  service?: string;
  to?: string;
  schema?: string;
}

/**
 * `hearth migrate-storage`: a site (or every site of a hosting service) moves from its SQLite file
 * to PostgreSQL. Copied, checked table by table, then switched: hearth.json names the database,
 * and the file is kept beside it under another name. The site (or service) must be stopped.
 */
export async function migrateStorage(options: MigrateStorageOptions, out: (line: string) => void): Promise<void> {
  if (Boolean(options.data) === Boolean(options.service)) throw new CliError('give either --data DIR (one site) or --service DIR (every site of a hosting service)', 2);
  const url = options.to ?? databaseUrlFromEnv();
  if (!url) throw new CliError('--to: give the PostgreSQL database, e.g. postgres://hearth:secret@127.0.0.1/hearth (or set HEARTH_DATABASE_URL)', 2);
  if (!/^postgres(ql)?:\/\//.test(url)) throw new CliError(`--to must be a postgres:// URL (it is ${JSON.stringify(redactUrl(url))})`, 2);
  if (options.service) {
    if (options.schema) throw new CliError('--schema names one site\'s schema: with --service every site gets its own (site_ and its name)', 2);
    return migrateService(path.resolve(options.service), url, out);
  }
  const dataDir = path.resolve(options.data!);
  if (!siteExists(dataDir)) throw new CliError(`no site in ${dataDir}: give the folder "hearth init" made`, 2);
  refuseWhileRunning(dataDir, 'the site');
  // A site of a hosting service is served by the service's process (DIR/sites/DOMAIN).
  const service = path.resolve(dataDir, '../..');
  if (serviceExists(service)) refuseWhileRunning(service, 'the hosting service serving this site');
  const moved = await migrateSite(dataDir, url, options.schema, out);
  if (!moved) throw new CliError(`the site in ${dataDir} already keeps its data in PostgreSQL: nothing to move`);
  out(`Start it as before: hearth start --data ${dataDir}`);
}

function refuseWhileRunning(dir: string, what: string): void {
  const pid = runningProcess(dir);
  if (pid !== undefined) throw new CliError(`${what} in ${dir} is running (process ${pid}): stop it first, so that nothing is written during the move`);
}

/** Moves one site; false when its data is in PostgreSQL already. */
async function migrateSite(dataDir: string, url: string, schemaOption: string | undefined, out: (line: string) => void): Promise<boolean> {
  const raw = JSON.parse(fs.readFileSync(path.join(dataDir, CONFIG_FILE), 'utf8')) as { database?: { url: string } };
  const dbFile = path.join(dataDir, DB_FILE);
  if (raw.database || !fs.existsSync(dbFile)) return false;
  // (loaded without the environment's say: the site's data is still in its file)
  const saved = { database: process.env.HEARTH_DATABASE_URL, nats: process.env.HEARTH_NATS_URL };
  delete process.env.HEARTH_DATABASE_URL;
  delete process.env.HEARTH_NATS_URL;
  let config;
  try {
    config = loadSiteConfig(dataDir);
  } finally {
    if (saved.database !== undefined) process.env.HEARTH_DATABASE_URL = saved.database;
    if (saved.nats !== undefined) process.env.HEARTH_NATS_URL = saved.nats;
  }
  const schema = schemaOption ?? defaultSchemaFor(config.site);
  out(`Moving ${config.origin} from ${dbFile} to PostgreSQL ${redactUrl(url)}, schema ${schema}:`);
  let result;
  try {
    result = await moveSqliteToPostgres({ sqliteFile: dbFile, url, schema, progress: out });
  } catch (error) {
    throw new CliError(`${config.origin} was not moved: ${(error as Error).message}`);
  }
  updateSiteConfigFile(dataDir, (file) => ({ ...file, database: { url, schema } }));
  for (const suffix of ['', '-wal', '-shm']) {
    if (fs.existsSync(dbFile + suffix)) fs.renameSync(dbFile + suffix, dbFile + MOVED_SUFFIX + suffix);
  }
  const media = mediaFiles(dataDir);
  out(`Moved: ${result.tables.length} tables, ${result.rows.toLocaleString('en')} rows, each table checked on both sides (row count and SHA-256).`);
  out(`Media stays where it is: ${media.files.toLocaleString('en')} files, ${(media.bytes / 1024 / 1024).toFixed(1)} MB in ${path.join(dataDir, 'media')}.`);
  out(`The old file is kept as ${dbFile}${MOVED_SUFFIX}; delete it once you are satisfied.`);
  return true;
}

function mediaFiles(dataDir: string): { files: number; bytes: number } {
  const dir = path.join(dataDir, 'media');
  if (!fs.existsSync(dir)) return { files: 0, bytes: 0 };
  let files = 0;
  let bytes = 0;
  for (const name of fs.readdirSync(dir)) {
    const stat = fs.statSync(path.join(dir, name));
    if (!stat.isFile()) continue;
    files++;
    bytes += stat.size;
  }
  return { files, bytes };
}

async function migrateService(serviceDir: string, url: string, out: (line: string) => void): Promise<void> {
  if (!serviceExists(serviceDir)) throw new CliError(`no hosting service in ${serviceDir}: give the folder "hearth service init" made`, 2);
  refuseWhileRunning(serviceDir, 'the hosting service');
  const config = loadServiceConfig(serviceDir);
  if (config.database) throw new CliError(`the hosting service in ${serviceDir} already keeps its data in PostgreSQL: nothing to move`);
  const registry = await openRegistry(config);
  let moved = 0;
  let sites;
  try {
    sites = registry.list();
    for (const [i, site] of sites.entries()) {
      out(`[${i + 1}/${sites.length}] ${site.domain}`);
      if (await migrateSite(serviceSiteDir(config, site.domain), url, undefined, out)) moved++;
      else out('  already in PostgreSQL');
    }
  } finally {
    await registry.close();
  }
  // The list of sites moves too: every instance of the service shares it there.
  const shared = await PostgresSiteRegistry.open(url, `migrate-${process.pid}`);
  try {
    await shared.importSites(sites);
    if (shared.list().length < sites.length) throw new CliError('the list of sites did not arrive whole in PostgreSQL; the service still uses its own file');
  } finally {
    await shared.close();
  }
  const registryFile = path.join(serviceDir, REGISTRY_FILE);
  for (const suffix of ['', '-wal', '-shm']) {
    if (fs.existsSync(registryFile + suffix)) fs.renameSync(registryFile + suffix, registryFile + MOVED_SUFFIX + suffix);
  }
  // New sites of this service are made in PostgreSQL from now on.
  updateServiceConfig(config, (file) => ({ ...file, database: { url } }));
  out(`Moved ${moved} site(s) and the list of sites (${sites.length}). New sites of this service will keep their data in PostgreSQL too, and the service can now run as several instances (docs/SCALING.md). Start it as before: hearth service start --data ${serviceDir}`);
}
