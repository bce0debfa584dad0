import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { migrateToLatest, openPostgres, openSqlite } from './db.js';

/**
 * Moving a site's data from its SQLite file to PostgreSQL (`hearth migrate-storage`): the same
 * schema is made on the target by the same migrations, every table is copied in one PostgreSQL
 * transaction (parents before the tables that refer to them), the serial counters go on from
 * where SQLite's were, and then each table is read back from both sides and compared, row count
 * and SHA-256 of its rows in key order. Nothing is written to the SQLite file but its own
 * pending migrations, so a failed move leaves the site as it was.
 */

export interface TableCopy {
  table: string;
  rows: number;
  /** SHA-256 over the table's rows in primary-key order, the same on both sides. */
  sha256: string;
}

export interface StorageMove {
  tables: TableCopy[];
  rows: number;
}

const BATCH_ROWS = 500;

/** Tables that belong to SQLite itself, to the migrator, or to SQLite's own full-text index (PostgreSQL has its own, migration 012). */
function isCopied(name: string): boolean {
  return !/^(sqlite_|kysely_)/.test(name) && !/^post_search($|_)/.test(name);
}

interface TableShape {
  name: string;
  columns: string[];
  key: string[];
  parents: string[];
}

async function sqliteTables(db: Kysely<any>): Promise<TableShape[]> {
  const names = (await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(db)).rows.map((r) => r.name).filter(isCopied);
  const shapes: TableShape[] = [];
  for (const name of names) {
    const info = (await sql<{ name: string; pk: number }>`select name, pk from pragma_table_info(${name})`.execute(db)).rows;
    const parents = (await sql<{ table: string }>`select "table" from pragma_foreign_key_list(${name})`.execute(db)).rows.map((r) => r.table);
    const key = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    shapes.push({ name, columns: info.map((c) => c.name), key: key.length > 0 ? key : info.map((c) => c.name), parents: [...new Set(parents)].filter((p) => p !== name) });
  }
  return shapes;
}

/** Tables in an order where every table comes after those its foreign keys point to. */
export function parentsFirst<T extends { name: string; parents: string[] }>(tables: T[]): T[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const ordered: T[] = [];
  const visit = (table: T, path: string[]) => {
    if (done.has(table.name)) return;
    if (path.includes(table.name)) throw new Error(`foreign keys form a cycle: ${[...path, table.name].join(' → ')}`);
    for (const parent of table.parents) {
      const p = byName.get(parent);
      if (p) visit(p, [...path, table.name]);
    }
    done.add(table.name);
    ordered.push(table);
  };
  for (const table of tables) visit(table, []);
  return ordered;
}

/** One value as it is compared across the two databases: SQLite and PostgreSQL give the same number or text. */
function canonicalValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return String(value);
  if (Buffer.isBuffer(value)) return `b64:${value.toString('base64')}`;
  return value;
}

/**
 * Count and SHA-256 of a table's rows, read in key order in batches (a large table is never held
 * whole), each batch after the last key seen: every batch costs the same, however far in.
 */
async function tableDigest(db: Kysely<any>, table: TableShape): Promise<{ rows: number; sha256: string }> {
  const hash = createHash('sha256');
  let rows = 0;
  let after: unknown[] | undefined;
  for (;;) {
    let query = db.selectFrom(table.name).select(table.columns);
    if (after) {
      const last = after;
      query = query.where(sql<boolean>`(${sql.join(table.key.map((c) => sql.ref(c)))}) > (${sql.join(last)})`);
    }
    for (const column of table.key) query = query.orderBy(column);
    const batch = (await query.limit(BATCH_ROWS).execute()) as Array<Record<string, unknown>>;
    for (const row of batch) hash.update(JSON.stringify(table.columns.map((c) => canonicalValue(row[c]))) + '\n');
    rows += batch.length;
    if (batch.length < BATCH_ROWS) break;
    after = table.key.map((c) => batch[batch.length - 1]![c]);
  }
  return { rows, sha256: hash.digest('hex') };
}

export class StorageMoveError extends Error {}

/**
 * Copies the site in `sqliteFile` into `schema` of the PostgreSQL database at `url`. The schema
 * must not hold tables yet. `progress` hears one line per table.
 */
export async function moveSqliteToPostgres(options: { sqliteFile: string; url: string; schema: string; progress?: (line: string) => void }): Promise<StorageMove> {
  const progress = options.progress ?? (() => undefined);
  const source: Kysely<any> = openSqlite({ file: options.sqliteFile });
  const target: Kysely<any> = openPostgres({ url: options.url, schema: options.schema, poolSize: 2 });
  try {
    await migrateToLatest(source);
    const existing = await sql<{ n: number }>`select count(*) as n from information_schema.tables where table_schema = ${options.schema}`.execute(target);
    if (Number(existing.rows[0]?.n ?? 0) > 0) {
      throw new StorageMoveError(`the PostgreSQL schema "${options.schema}" already holds tables: nothing was copied. Choose another schema (--schema), or remove that one if it is a failed earlier attempt ("drop schema ${options.schema} cascade")`);
    }
    await migrateToLatest(target);
    const tables = parentsFirst(await sqliteTables(source));
    const targetColumns = await sql<{ table_name: string; column_name: string; column_default: string | null }>`select table_name, column_name, column_default from information_schema.columns where table_schema = ${options.schema}`.execute(target);
    for (const table of tables) {
      const there = new Set(targetColumns.rows.filter((c) => c.table_name === table.name).map((c) => c.column_name));
      const missing = table.columns.filter((c) => !there.has(c));
      if (there.size === 0 || missing.length > 0) throw new StorageMoveError(`table ${table.name} is not the same on PostgreSQL (missing: ${missing.join(', ') || 'the table'}): nothing was copied`);
    }

    await target.transaction().execute(async (trx) => {
      // What the migrations seeded (the post sequence's first row, say) gives way to the site's own rows.
      for (const table of [...tables].reverse()) await trx.deleteFrom(table.name).execute();
      for (const table of tables) {
        let copied = 0;
        for (let after = 0; ; ) {
          const batch = (await sql<Record<string, unknown>>`select rowid as __rowid, * from ${sql.table(table.name)} where rowid > ${after} order by rowid limit ${BATCH_ROWS}`.execute(source)).rows;
          if (batch.length === 0) break;
          after = Number(batch[batch.length - 1]!.__rowid);
          await trx
            .insertInto(table.name)
            .values(batch.map((row) => Object.fromEntries(table.columns.map((c) => [c, row[c]]))))
            .execute();
          copied += batch.length;
        }
        progress(`  ${table.name}: ${copied.toLocaleString('en')} rows copied`);
      }
      // Serial keys (bigserial) go on after the highest number SQLite ever gave (AUTOINCREMENT never
      // reuses one, even of a deleted row), or after the highest copied.
      const given = new Map((await sql<{ name: string; seq: number }>`select name, seq from sqlite_sequence`.execute(source)).rows.map((r) => [r.name, Number(r.seq)]));
      for (const column of targetColumns.rows.filter((c) => c.column_default?.startsWith('nextval('))) {
        const table = column.table_name;
        await sql`select setval(pg_get_serial_sequence(${`${options.schema}.${table}`}, ${column.column_name}), greatest(${given.get(table) ?? 0}, coalesce((select max(${sql.ref(column.column_name)}) from ${sql.table(table)}), 0)) + 1, false)`.execute(trx);
      }
    });

    progress('  checking every table on both sides (row count and SHA-256 of the rows)…');
    const report: TableCopy[] = [];
    for (const table of tables) {
      const [before, after] = await Promise.all([tableDigest(source, table), tableDigest(target, table)]);
      if (before.rows !== after.rows || before.sha256 !== after.sha256) {
        throw new StorageMoveError(`table ${table.name} differs after the copy (${before.rows} rows in SQLite, ${after.rows} in PostgreSQL): the site still uses its SQLite file; remove the schema ("drop schema ${options.schema} cascade") and try again`);
      }
      report.push({ table: table.name, rows: before.rows, sha256: before.sha256 });
    }
    return { tables: report, rows: report.reduce((n, t) => n + t.rows, 0) };
  } finally {
    await source.destroy();
    await target.destroy();
  }
}
