import SQLite from 'better-sqlite3';
import { createRequire } from 'node:module';
import type pg from 'pg';
import { Kysely, Migrator, PostgresDialect, sql, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type Migration, type MigrationProvider } from 'kysely';
import { dialectOf, SCHEMA_NAME, type DatabaseTarget } from './dialect.js';
export { SCHEMA_NAME, type DatabaseTarget } from './dialect.js';
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
import * as m012 from './migrations/012-postgres-search.js';
import * as m013 from './migrations/013-instances.js';
import * as m014 from './migrations/014-fanout.js';
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
  '012-postgres-search': m012,
  '013-instances': m013,
  '014-fanout': m014,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface OpenSqliteOptions {
  file: string;
}


export function openDatabase(target: DatabaseTarget): Db {
  return target.kind === 'sqlite' ? openSqlite({ file: target.file }) : openPostgres(target);
}


const schemaOf = new WeakMap<Kysely<any>, string>();

/**
 * PostgreSQL through Kysely and `pg`. Every site works in a schema of its own, so the queries are
 * the same as on SQLite and many sites can share one database. The sites of one process share
 * one pool per database URL (a hosting service may hold a thousand sites, and PostgreSQL serves
 * a few hundred connections at most): a connection is switched to the site's schema
 * (search_path) when it is handed to that site and last served another. int8 and numeric come
 * back as JavaScript numbers, as SQLite gives them: they are times in ms, sequence numbers and
 * counts, all far below 2^53.
 */
export function openPostgres(options: { url: string; schema: string; poolSize?: number }): Db {
  if (!SCHEMA_NAME.test(options.schema)) throw new Error(`"${options.schema}" is not a usable PostgreSQL schema name (lower-case letters, digits and _)`);
  const shared = acquirePool(options.url, options.poolSize);
  let ended = false;
  const facade = {
    connect: async () => {
      const client = await shared.pool.connect();
      if (clientSchema.get(client) !== options.schema) {
        try {
          await client.query(`set search_path to "${options.schema}"`);
        } catch (error) {
          client.release(error as Error);
          throw error;
        }
        clientSchema.set(client, options.schema);
      }
      return client;
    },
    end: async () => {
      if (ended) return;
      ended = true;
      await releasePool(options.url, options.poolSize);
    },
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: facade as unknown as pg.Pool }) });
  schemaOf.set(db, options.schema);
  return db;
}

const clientSchema = new WeakMap<pg.PoolClient, string>();
const pools = new Map<string, { pool: pg.Pool; users: number }>();

/**
 * `pg` loads with the first PostgreSQL database: a site on SQLite (the default) never pays its
 * memory. It is CommonJS, so a synchronous require keeps openPostgres synchronous like openSqlite.
 */
let pgModule: typeof pg | undefined;
const loadPg = (): typeof pg => (pgModule ??= createRequire(import.meta.url)('pg') as typeof pg);

function acquirePool(url: string, size = 10): { pool: pg.Pool; users: number } {
  const key = `${size} ${url}`;
  let entry = pools.get(key);
  if (!entry) {
    const pg = loadPg();
    const pool = new pg.Pool({
      connectionString: url,
      max: size,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
      types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 || oid === 1700 ? parseNumber : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
    });
    // A connection the server closed (restart, network) is dropped from the pool and the next
    // query opens another; without a listener the error would end the process.
    pool.on('error', () => undefined);
    entry = { pool, users: 0 };
    pools.set(key, entry);
  }
  entry.users++;
  return entry;
}

async function releasePool(url: string, size = 10): Promise<void> {
  const key = `${size} ${url}`;
  const entry = pools.get(key);
  if (!entry || --entry.users > 0) return;
  pools.delete(key);
  await entry.pool.end();
}

function parseNumber(text: string | null): number | null {
  return text === null ? null : Number(text);
}

/**
 * SQLite in WAL mode: readers never wait for the writer, and `synchronous=NORMAL` keeps
 * every committed transaction across a process crash (kill -9); only an OS crash or power
 * loss may lose the last commits, which the outbox's retry then resends.
 *
 * The WAL is copied back into the database (a checkpoint, run by the commit that fills it) every
 * 4,000 pages (16 MB) instead of SQLite's 1,000: a checkpoint stops the site for 10-25 ms, and a
 * page written again and again in between (an index's, the end of a table's) is copied once.
 * In the bench's batched DMs, alternating three runs each: 4,286 DMs/s with 1,000 pages, 4,593
 * with 4,000, 4,647 with none at all. The file is cut back to 24 MB after a checkpoint when a
 * large transaction made it grow past that.
 */
export function openSqlite(options: OpenSqliteOptions): Db {
  const sqlite = new SQLite(options.file);
  keepAlive(sqlite);
  // exec, not pragma(): pragma() makes a throwaway Statement (see keepAlive).
  sqlite.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 4000; PRAGMA journal_size_limit = 25165824;');
  const cached = withStatementCache(sqlite);
  const db = new Kysely<Database>({ dialect: new KeepErrorSqliteDialect(sqlite, cached) });
  sqliteByAdapter.set(db.getExecutor().adapter, cached);
  return db;
}

/**
 * The SQLite connection behind a Kysely instance or any of its transactions (they share its
 * adapter object), with the statement cache in front; undefined for PostgreSQL. For statements
 * a transaction runs on its own connection (storage/compiled.ts).
 */
const sqliteByAdapter = new WeakMap<object, SQLite.Database>();
export function sqliteConnectionOf(db: Kysely<any>): SQLite.Database | undefined {
  return sqliteByAdapter.get(db.getExecutor().adapter);
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

/** The advisory lock that serializes migrations in one PostgreSQL database ("Hear"). */
const MIGRATION_LOCK = 0x48656172;

export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const schema = schemaOf.get(db);
  if (schema && dialectOf(db) === 'postgres') await checkPostgres(db, schema);
  // Already at the latest: one query instead of the migrator's dozen (a hosting service opens
  // many sites, and each statement stays prepared for the life of the connection).
  const latest = Object.keys(MIGRATIONS).sort().at(-1);
  const applied = await sql<{ name: string }>`select name from kysely_migration order by name desc limit 1`.execute(db).then(
    (result) => result.rows[0]?.name,
    () => undefined,
  );
  if (applied !== undefined && applied === latest) return;
  // On PostgreSQL the migration tables are named with the site's schema: Kysely looks for them
  // across every schema, and would otherwise take another site's for this one's.
  const migrate = (on: Kysely<any>) => new Migrator({ db: on, provider: new StaticMigrationProvider(), ...(schema ? { migrationTableSchema: schema } : {}) }).migrateToLatest();
  for (let attempt = 1; ; attempt++) {
    const { error, results } =
      dialectOf(db) === 'postgres'
        ? await db.connection().execute(async (conn) => {
            // Kysely's migrator reads the catalog of every schema to find its own tables, and a
            // schema another site is creating at that moment can make the read fail ("relation
            // ... does not exist"). So the sites of a database migrate one at a time: an advisory
            // lock, held by the one connection the migration runs on (waiting holds no other).
            await sql`select pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
            try {
              return await migrate(conn);
            } finally {
              await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
            }
          })
        : await migrate(db);
    const failed = results?.find((r) => r.status === 'Error');
    if (!error && !failed) return;
    // A schema dropped meanwhile (an operator removing a site, a test cleaning up) takes no
    // lock, and the same catalog read can trip on it. The migration ran in one transaction and
    // was rolled back, so it is simply run again.
    if (attempt < MIGRATION_ATTEMPTS && isCatalogRace(error)) continue;
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error | undefined)?.message ?? 'unknown error'}`);
  }
}

const MIGRATION_ATTEMPTS = 5;

/**
 * PostgreSQL's "no such relation", "no such column" and "no such schema": what a read of the
 * catalog returns when a schema is dropped under it.
 */
function isCatalogRace(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === '42P01' || code === '42703' || code === '3F000';
}

/**
 * Before the first migration on PostgreSQL: the site's schema exists, and the database sorts
 * text byte by byte (collation "C"), as SQLite does. Cursors and ids compare as text, and a
 * language-aware collation would order them differently and could skip or repeat items.
 */
async function checkPostgres(db: Kysely<any>, schema: string): Promise<void> {
  const { rows } = await sql<{ collation: string }>`select datcollate as collation from pg_database where datname = current_database()`.execute(db);
  const collation = rows[0]?.collation ?? '';
  if (collation !== 'C' && collation !== 'POSIX') {
    throw new Error(`the PostgreSQL database sorts text by "${collation}", but Hearth needs byte order: create it with "createdb --locale=C --template=template0 NAME" (docs/SCALING.md)`);
  }
  await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
}

/** The bytes a PostgreSQL schema's tables and indexes take (a site's share of the database, for its storage quota). */
export async function schemaBytes(db: Kysely<any>, schema: string): Promise<number> {
  const { rows } = await sql<{ bytes: number | null }>`select sum(pg_total_relation_size(c.oid)) as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ${schema} and c.relkind in ('r', 'm')`.execute(db);
  return Number(rows[0]?.bytes ?? 0);
}
