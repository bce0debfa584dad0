import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type SQLite from 'better-sqlite3';
import { sqliteConnectionOf } from './db.js';
import { dialectOf, type DialectName } from './dialect.js';
import type { Database } from './schema.js';

/**
 * A statement on a hot path (every DM, every envelope), built with Kysely's query builder once
 * per dialect and then run with new values: building and compiling a small query costs more
 * than SQLite takes to run it (2-6 µs against 2-5 µs, and its garbage besides), and a DM took
 * seven of them on each site.
 *
 * `build` receives stand-ins for the named values and must use each where a value goes (a
 * `where`, a `values` column, a `limit`); the stand-ins are found again among the compiled
 * parameters, so the SQL text and the order of its parameters are Kysely's own, on SQLite and
 * PostgreSQL alike. A stand-in that Kysely did not bind as a parameter is an error at the
 * first run, not a wrong query.
 */
export function compiledOnce<P extends Record<string, unknown>, R>(build: (db: Kysely<Database>, values: P) => Compilable<R>): (executor: Kysely<Database>, values: P) => Promise<QueryResult<R>> {
  const byDialect = new Map<DialectName, Prepared<P, R>>();
  return (executor, values) => {
    const dialect = dialectOf(executor);
    let prepared = byDialect.get(dialect);
    if (!prepared) {
      try {
        prepared = prepare(executor, build);
      } catch (error) {
        return Promise.reject(error);
      }
      byDialect.set(dialect, prepared);
    }
    const parameters = prepared.slots.map((slot) => (slot.name === undefined ? slot.value : values[slot.name]));
    if (executor.isTransaction) {
      const sqlite = sqliteConnectionOf(executor);
      if (sqlite) return runInSqliteTransaction<R>(sqlite, prepared.compiled.sql, parameters);
    }
    return executor.executeQuery<R>({ ...prepared.compiled, parameters });
  };
}

/**
 * A statement of a transaction on SQLite, run straight on its connection: the transaction holds
 * that one connection until it ends, so this is what Kysely's driver would do, without the
 * promises and executor objects Kysely makes around each statement of a transaction (a fifth of
 * a site's garbage while it took in DMs). The result has the driver's shape. Outside a
 * transaction a statement goes through Kysely, which waits for any transaction in progress.
 */
function runInSqliteTransaction<R>(sqlite: SQLite.Database, sql: string, parameters: unknown[]): Promise<QueryResult<R>> {
  try {
    const statement = sqlite.prepare(sql);
    if (statement.reader) return Promise.resolve({ rows: statement.all(parameters) as R[] });
    const { changes, lastInsertRowid } = statement.run(parameters);
    return Promise.resolve({ numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] });
  } catch (error) {
    return Promise.reject(error);
  }
}

interface Prepared<P, R> {
  compiled: CompiledQuery<R>;
  slots: Array<{ name: keyof P & string; value?: undefined } | { name?: undefined; value: unknown }>;
}

/** A stand-in that no constant written in a `build` function looks like (they are code, never NUL-led). */
const STAND_IN = '\u0000hearth-value:';

function prepare<P extends Record<string, unknown>, R>(db: Kysely<Database>, build: (db: Kysely<Database>, values: P) => Compilable<R>): Prepared<P, R> {
  const asked = new Set<string>();
  const standIns = new Proxy({} as P, {
    get: (_target, name) => {
      if (typeof name !== 'string') return undefined;
      asked.add(name);
      return `${STAND_IN}${name}`;
    },
  });
  const compiled = build(db, standIns).compile();
  const bound = new Set<string>();
  const slots = compiled.parameters.map((value) => {
    if (typeof value === 'string' && value.startsWith(STAND_IN)) {
      const name = value.slice(STAND_IN.length);
      bound.add(name);
      return { name: name as keyof P & string };
    }
    return { value };
  });
  for (const name of asked) {
    if (!bound.has(name)) throw new Error(`compiledOnce: "${name}" is not a parameter of ${compiled.sql}`);
  }
  return { compiled, slots };
}
