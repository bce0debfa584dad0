import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import SQLite from 'better-sqlite3';
import { HearthError } from '@hearth/protocol';
import { keepAlive } from '../storage/db.js';
import { AckMarks } from '../storage/integrity.js';
import type { SiteRegistry } from './registry.js';
import { serviceSiteDir, type ServiceConfig } from './service-config.js';

/**
 * Backups of one site of a service (issue 12): one .tar.gz with the site's configuration (its
 * keys), a consistent copy of its database taken while the site serves (SQLite's online backup,
 * which reads a snapshot beside the writer), its media, and a manifest. Restoring replaces only
 * that site's folder; the others are never touched.
 */
export const BACKUP_FORMAT = 'hearth-site-backup-v1';

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  domain: string;
  unicode?: string;
  createdAt: string;
  /** SHA-256 of the database copy, checked before a restore replaces anything. */
  databaseSha256: string;
}

export interface BackupFile {
  file: string;
  createdAt: string;
  bytes: number;
}

export function backupDir(config: ServiceConfig, domain: string): string {
  return path.join(config.dataDir, 'backups', domain);
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

function scratch(config: ServiceConfig, label: string): string {
  const dir = path.join(config.dataDir, 'tmp');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return fs.mkdtempSync(path.join(dir, `${label}-`));
}

/** A file's SHA-256, read as a stream: a site's database may be larger than memory allows. */
async function sha256(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

/** Writes a backup of `domain` (default: into the service's backups folder) and returns it. */
export async function backupSite(config: ServiceConfig, registry: SiteRegistry, domain: string, options: { out?: string; now?: Date } = {}): Promise<BackupFile> {
  const site = registry.get(domain);
  if (!site) throw new HearthError('unknown_site', `${domain} is not a site on this service`, { status: 404 });
  const siteDir = serviceSiteDir(config, domain);
  // A site in PostgreSQL: its data is not in its folder, and a backup of the folder would look whole without it.
  const database = (JSON.parse(fs.readFileSync(path.join(siteDir, 'hearth.json'), 'utf8')) as { database?: { schema?: string } }).database;
  if (database) {
    throw new HearthError('backup_elsewhere', `${domain} keeps its data in PostgreSQL (schema ${database.schema ?? 'site_…'}): back it up with PostgreSQL's own tools, e.g. pg_dump --schema ${database.schema ?? 'SCHEMA'} (docs/SCALING.md)`, { status: 409 });
  }
  const now = options.now ?? new Date();
  const staging = scratch(config, 'backup');
  try {
    const copy = path.join(staging, 'site');
    fs.mkdirSync(copy, { mode: 0o700 });
    fs.copyFileSync(path.join(siteDir, 'hearth.json'), path.join(copy, 'hearth.json'));
    const dbFile = path.join(siteDir, 'hearth.db');
    if (fs.existsSync(dbFile)) {
      // A connection of its own, read-only: the online backup copies a consistent snapshot while
      // the site goes on writing. (Kept alive: see keepAlive in storage/db.ts.)
      const source = keepAlive(new SQLite(dbFile, { readonly: true, fileMustExist: true }));
      try {
        await source.backup(path.join(copy, 'hearth.db'));
      } finally {
        source.close();
      }
    }
    if (fs.existsSync(path.join(siteDir, 'media'))) fs.cpSync(path.join(siteDir, 'media'), path.join(copy, 'media'), { recursive: true });
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      domain,
      ...(site.unicode ? { unicode: site.unicode } : {}),
      createdAt: now.toISOString(),
      databaseSha256: fs.existsSync(path.join(copy, 'hearth.db')) ? await sha256(path.join(copy, 'hearth.db')) : '',
    };
    fs.writeFileSync(path.join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2));
    const out = options.out ? path.resolve(options.out) : path.join(backupDir(config, domain), `${domain}-${stamp(now)}.tar.gz`);
    fs.mkdirSync(path.dirname(out), { recursive: true, mode: 0o700 });
    const tmp = `${out}.${process.pid}.tmp`;
    const tar = await import('tar'); // loaded when a backup is made: a running site never needs it
    await tar.c({ gzip: true, file: tmp, cwd: staging, portable: true }, ['manifest.json', 'site']);
    fs.renameSync(tmp, out);
    return { file: out, createdAt: manifest.createdAt, bytes: fs.statSync(out).size };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** The backups kept for a site, newest first. */
export function listBackups(config: ServiceConfig, domain: string): BackupFile[] {
  const dir = backupDir(config, domain);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.tar.gz'))
    .map((f) => {
      const file = path.join(dir, f);
      const stat = fs.statSync(file);
      return { file, createdAt: stat.mtime.toISOString(), bytes: stat.size };
    })
    .sort((a, b) => b.file.localeCompare(a.file));
}

/** Keeps the newest `keep` backups of a site and removes the rest; returns how many went. */
export function pruneBackups(config: ServiceConfig, domain: string, keep: number): number {
  const old = listBackups(config, domain).slice(Math.max(1, keep));
  for (const b of old) fs.rmSync(b.file, { force: true });
  return old.length;
}

/** Reads a backup into a scratch folder and checks it: the manifest, the paths, the database. */
async function unpack(config: ServiceConfig, file: string): Promise<{ staging: string; manifest: BackupManifest }> {
  if (!fs.existsSync(file)) throw new HearthError('invalid_request', `there is no file ${file}`, { status: 400 });
  const staging = scratch(config, 'restore');
  try {
    // Only the manifest and the site's files, never a link, never outside the folder (tar refuses
    // absolute paths and ".." unless told otherwise).
    const tar = await import('tar');
    await tar.x({ file, cwd: staging, strict: true, filter: (p, entry) => (p === 'manifest.json' || p === 'site' || p.startsWith('site/')) && !('type' in entry && /Link/.test(String(entry.type))) });
    let manifest: BackupManifest;
    try {
      manifest = JSON.parse(fs.readFileSync(path.join(staging, 'manifest.json'), 'utf8')) as BackupManifest;
    } catch {
      throw new HearthError('invalid_request', `${file} is not a Hearth site backup (no manifest)`, { status: 400 });
    }
    if (manifest.format !== BACKUP_FORMAT) throw new HearthError('invalid_request', `${file} is not a Hearth site backup (format ${String(manifest.format)})`, { status: 400 });
    const db = path.join(staging, 'site', 'hearth.db');
    if (!fs.existsSync(path.join(staging, 'site', 'hearth.json'))) throw new HearthError('invalid_request', `${file} holds no site configuration`, { status: 400 });
    if (manifest.databaseSha256 && (!fs.existsSync(db) || (await sha256(db)) !== manifest.databaseSha256)) throw new HearthError('invalid_request', `the database in ${file} is damaged (its checksum does not match the manifest)`, { status: 400 });
    return { staging, manifest };
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (error instanceof HearthError) throw error;
    throw new HearthError('invalid_request', `${file} could not be read as a backup: ${(error as Error).message}`, { status: 400 });
  }
}

/**
 * Restores one site from a backup. The site must not be in use: absent from the service (deleted,
 * or never here), or suspended and closed by the running service. Its current folder is kept in
 * the service's trash, and the restored site is left as it was in the registry (a site not there
 * comes back active).
 */
export async function restoreSite(config: ServiceConfig, registry: SiteRegistry, file: string, options: { waitMs?: number } = {}): Promise<{ domain: string; previous?: string }> {
  const { staging, manifest } = await unpack(config, file);
  try {
    const domain = manifest.domain;
    const site = registry.get(domain);
    if (site && site.status === 'active') {
      throw new HearthError('site_in_use', `${domain} is serving: suspend it first (hearth service suspend ${domain}), then restore`, { status: 409 });
    }
    // The running service closes a suspended site within a few seconds; wait for it.
    const deadline = Date.now() + (options.waitMs ?? 30_000);
    for (;;) {
      await registry.refresh();
      if (!registry.get(domain)?.open) break;
      if (Date.now() > deadline) throw new HearthError('site_in_use', `${domain} is still open in the running service; try again in a moment`, { status: 409 });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const siteDir = serviceSiteDir(config, domain);
    let previous: string | undefined;
    if (fs.existsSync(siteDir)) {
      previous = path.join(config.dataDir, 'trash', `${domain}-${stamp(new Date())}`);
      fs.mkdirSync(path.dirname(previous), { recursive: true, mode: 0o700 });
      fs.renameSync(siteDir, previous);
    }
    fs.renameSync(path.join(staging, 'site'), siteDir);
    // The restored database is older than the marks the site last wrote: they belong to the old one.
    fs.rmSync(AckMarks.fileIn(siteDir), { force: true });
    if (!site) await registry.add(domain, manifest.unicode, Date.now());
    else if (site.status === 'deleted') await registry.setStatus(domain, 'active', Date.now());
    return { domain, ...(previous ? { previous } : {}) };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
