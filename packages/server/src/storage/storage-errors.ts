import fs from 'node:fs';
import { HearthError } from '@hearth/protocol';

/** The disk holding the database is full: nothing was written, and the same request can succeed later. */
export class StorageFullError extends HearthError {
  constructor(cause: unknown) {
    super('storage_full', 'this site cannot store anything right now: its disk is full. Nothing was lost; try again later', { status: 507, retryable: true, cause });
  }
}

/** SQLite's own error code (SQLITE_FULL, SQLITE_IOERR_...), if the error is one. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Whether a write failed on the unique index `index` (SQLite names the columns, PostgreSQL the
 * index): the row another transaction committed first. Two writers race there only when they
 * run at once, which PostgreSQL allows (and several instances of a site do).
 */
export function isUniqueViolation(error: unknown, index: { name: string; columns: string[] }): boolean {
  const e = error as { code?: unknown; constraint?: unknown; message?: unknown };
  if (e?.code === '23505') return e.constraint === index.name;
  if (e?.code === 'SQLITE_CONSTRAINT_UNIQUE') return index.columns.every((c) => String(e.message).includes(c));
  return false;
}

/** Storage failures a client can act on, as HearthErrors; anything else is returned unchanged. */
export function asStorageError(error: unknown): unknown {
  const code = sqliteCode(error);
  if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' && /full|space/i.test(String((error as Error).message))) return new StorageFullError(error);
  return error;
}

/**
 * Free space on the disk that holds `dir`; `low` below 16 MB (or 5% of a small disk), where
 * SQLite can no longer count on room for its journal.
 */
export function diskSpace(dir: string): { free: number; total: number; low: boolean } {
  const stat = fs.statfsSync(dir);
  const free = stat.bavail * stat.bsize;
  const total = stat.blocks * stat.bsize;
  return { free, total, low: free < Math.min(16 * 1024 * 1024, total * 0.05) };
}
