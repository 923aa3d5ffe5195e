import { createRequire } from 'node:module';
import { ConfigError } from '../errors.js';

/**
 * The few calls the SCIM store makes, which `node:sqlite` (Node >= 22.5) and better-sqlite3
 * share: positional `?` parameters, rows as plain objects, integers as numbers.
 */
export interface SqlStatement {
  run(...params: SqlValue[]): unknown;
  get(...params: SqlValue[]): Record<string, unknown> | undefined;
  all(...params: SqlValue[]): Record<string, unknown>[];
  /** Row by row, without holding them all (all rows at once on a node:sqlite before 22.13). */
  iterate(...params: SqlValue[]): IterableIterator<Record<string, unknown>>;
}

export type SqlValue = string | number | null;

export interface SqlDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqlStatement;
  close(): void;
  /** Which driver opened it, for the logs. */
  readonly driver: 'node:sqlite' | 'better-sqlite3';
}

interface Driver {
  open(path: string, readonly: boolean): Omit<SqlDatabase, 'driver'>;
}

type DatabaseCtor = new (
  path: string,
  options?: Record<string, unknown>,
) => {
  exec(sql: string): void;
  prepare(sql: string): SqlStatement;
  close(): void;
};

const require = createRequire(import.meta.url);

/**
 * The runtime's own SQLite when it has one (Node >= 22.5, as in the container image: no native
 * addon to install), else better-sqlite3 (an optional dependency, for Node 20).
 */
function findDriver(): { name: SqlDatabase['driver']; driver: Driver } {
  let builtin: { DatabaseSync?: DatabaseCtor } | undefined;
  try {
    // Node 22.5 to 22.12 keep node:sqlite behind --experimental-sqlite: then this throws.
    builtin = process.getBuiltinModule('node:sqlite');
  } catch {
    builtin = undefined;
  }
  if (builtin?.DatabaseSync !== undefined) {
    const DatabaseSync = builtin.DatabaseSync;
    return {
      name: 'node:sqlite',
      driver: { open: (path, readOnly) => new DatabaseSync(path, { readOnly }) },
    };
  }
  let BetterSqlite: DatabaseCtor;
  try {
    BetterSqlite = require('better-sqlite3') as DatabaseCtor;
  } catch (error) {
    throw new ConfigError(
      'the SCIM store needs SQLite: this Node.js has no node:sqlite and better-sqlite3 is not installed',
      {
        cause: error,
        hint: 'run dirsync on Node.js 22.5 or later, or install the optional dependency better-sqlite3 (npm install without --ignore-scripts, or --omit=optional removed)',
      },
    );
  }
  return {
    name: 'better-sqlite3',
    driver: {
      open: (path, readonly) =>
        new BetterSqlite(path, readonly ? { readonly: true, fileMustExist: true } : {}),
    },
  };
}

/**
 * node:sqlite has `iterate` since Node 22.13; behind --experimental-sqlite (22.5 to 22.12) it has
 * not, and the rows are then read at once.
 */
export function withIterate(statement: SqlStatement): SqlStatement {
  if (typeof (statement as Partial<SqlStatement>).iterate === 'function') return statement;
  return {
    run: (...params) => statement.run(...params),
    get: (...params) => statement.get(...params),
    all: (...params) => statement.all(...params),
    iterate: (...params) => statement.all(...params)[Symbol.iterator](),
  };
}

let found: ReturnType<typeof findDriver> | undefined;

export function openDatabase(path: string, options: { readonly?: boolean } = {}): SqlDatabase {
  found ??= findDriver();
  const db = found.driver.open(path, options.readonly === true);
  const name = found.name;
  return {
    exec: (sql) => db.exec(sql),
    prepare: (sql) => withIterate(db.prepare(sql)),
    close: () => db.close(),
    driver: name,
  };
}
