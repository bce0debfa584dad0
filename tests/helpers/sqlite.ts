import Database from 'better-sqlite3';

/**
 * Opens a database for a test. Nothing better-sqlite3 makes may be garbage-collected on Node 24
 * (see keepAlive in packages/server/src/storage/db.ts), so the connection and its statements are
 * held for the life of the test process: statements are prepared once per SQL text.
 */
const kept: object[] = [];

export interface TestDb {
  all<T = any>(sql: string, ...params: unknown[]): T[];
  run(sql: string, ...params: unknown[]): void;
  close(): void;
}

export function openDatabase(file: string, options: { readonly?: boolean } = {}): TestDb {
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: true });
  kept.push(db);
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
      kept.push(statement);
    }
    return statement;
  };
  return {
    all: <T>(sql: string, ...params: unknown[]) => prepare(sql).all(...params) as T[],
    run: (sql: string, ...params: unknown[]) => void prepare(sql).run(...params),
    close: () => db.close(),
  };
}
