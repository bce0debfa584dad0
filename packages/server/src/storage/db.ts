import SQLite from 'better-sqlite3';
import { Kysely, Migrator, sql, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type Migration, type MigrationProvider } from 'kysely';
import * as m001 from './migrations/001-initial.js';
import * as m002 from './migrations/002-media.js';
import * as m003 from './migrations/003-vault.js';
import * as m004 from './migrations/004-call-allow.js';
import * as m005 from './migrations/005-hardening.js';
import * as m006 from './migrations/006-clocks.js';
import * as m007 from './migrations/007-social.js';
import * as m008 from './migrations/008-conversations.js';
import * as m009 from './migrations/009-device-use.js';
import * as m010 from './migrations/010-relay.js';
import * as m011 from './migrations/011-relay-adverts.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/** Numbered migrations, imported statically so a bundled or compiled server carries them. */
const MIGRATIONS: Record<string, Migration> = {
  '001-initial': m001,
  '002-media': m002,
  '003-vault': m003,
  '004-call-allow': m004,
  '005-hardening': m005,
  '006-clocks': m006,
  '007-social': m007,
  '008-conversations': m008,
  '009-device-use': m009,
  '010-relay': m010,
  '011-relay-adverts': m011,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface OpenSqliteOptions {
  file: string;
}

/**
 * SQLite in WAL mode: readers never wait for the writer, and `synchronous=NORMAL` keeps
 * every committed transaction across a process crash (kill -9); only an OS crash or power
 * loss may lose the last commits, which the outbox's retry then resends.
 */
export function openSqlite(options: OpenSqliteOptions): Db {
  const sqlite = new SQLite(options.file);
  keepAlive(sqlite);
  // exec, not pragma(): pragma() makes a throwaway Statement (see keepAlive).
  sqlite.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  return new Kysely<Database>({ dialect: new KeepErrorSqliteDialect(sqlite, withStatementCache(sqlite)) });
}

/**
 * When SQLite fails a statement with SQLITE_FULL (or IOERR, NOMEM) it may roll the transaction
 * back by itself; Kysely's driver then runs ROLLBACK anyway, and the error of that
 * ("cannot rollback - no transaction is active") replaced the real one. This driver rolls back
 * only a transaction that is still open, so the caller sees what actually went wrong.
 */
class KeepErrorSqliteDriver extends SqliteDriver {
  constructor(private readonly sqlite: SQLite.Database, database: SQLite.Database) {
    super({ database });
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.sqlite.inTransaction) return;
    await super.rollbackTransaction(connection);
  }
}

class KeepErrorSqliteDialect extends SqliteDialect {
  constructor(private readonly sqlite: SQLite.Database, private readonly database: SQLite.Database) {
    super({ database });
  }

  override createDriver(): Driver {
    return new KeepErrorSqliteDriver(this.sqlite, this.database);
  }
}

/**
 * better-sqlite3 12 on Node 24 aborts the process (`Assertion failed: (env) != nullptr` in
 * RemoveEnvironmentCleanupHook) when the garbage collector finalizes one of its objects; the
 * upstream report was closed without a fix, and version 13, which has one, crashes on Node 20.
 * So no Database or Statement may ever become garbage: databases are held here for the life of
 * the process (a site opens one), and statements by the cache below.
 */
const keptAlive: object[] = [];
export function keepAlive<T extends object>(value: T): T {
  keptAlive.push(value);
  return value;
}

/**
 * Kysely's SQLite driver prepares every statement anew; compiling SQL is a third of the cost of
 * a small query. The cache keeps each distinct statement prepared (kysely runs them with all()
 * or run(), never concurrently). It is never evicted, for the reason above: the distinct SQL
 * texts are bounded by the code (IN lists are chunked), a few thousand at most.
 */
function withStatementCache(sqlite: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  return new Proxy(sqlite, {
    get(target, prop) {
      if (prop === 'prepare') {
        return (sql: string) => {
          let statement = cache.get(sql);
          if (!statement) {
            statement = target.prepare(sql);
            cache.set(sql, statement);
          }
          return statement;
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  // Already at the latest: one query instead of the migrator's dozen (a hosting service opens
  // many sites, and each statement stays prepared for the life of the connection).
  const latest = Object.keys(MIGRATIONS).sort().at(-1);
  const applied = await sql<{ name: string }>`select name from kysely_migration order by name desc limit 1`.execute(db).then(
    (result) => result.rows[0]?.name,
    () => undefined,
  );
  if (applied !== undefined && applied === latest) return;
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error | undefined)?.message ?? 'unknown error'}`);
  }
}
