import { PostgresAdapter, type Kysely } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/** Where a site keeps its data: the embedded default (a SQLite file), or a schema in PostgreSQL. */
export type DatabaseTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema: string; poolSize?: number };

/** A PostgreSQL schema name Hearth accepts: plain, so it never needs quoting in a search_path. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Which database a Kysely instance talks to. By `instanceof`, never by a class name: the
 * bundled CLI is minified, and minification renames classes (issue 13).
 */
export function dialectOf(db: Kysely<any>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * An auto-incrementing integer key, the same on both dialects: `integer primary key
 * autoincrement` on SQLite (numbers are never reused), `bigserial primary key` on PostgreSQL.
 */
export function sequenceColumn(db: Kysely<any>): { type: 'integer' | 'bigserial'; build: (column: any) => any } {
  return dialectOf(db) === 'postgres'
    ? { type: 'bigserial', build: (column: any) => column.primaryKey() }
    : { type: 'integer', build: (column: any) => column.primaryKey().autoIncrement() };
}
