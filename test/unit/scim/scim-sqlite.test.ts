import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { openDatabase, withIterate, type SqlStatement } from '../../../src/scim/sqlite.js';

/** node:sqlite without a flag (Node >= 22.13; 22.5 to 22.12 need --experimental-sqlite). */
function hasBuiltinSqlite(): boolean {
  try {
    return process.getBuiltinModule('node:sqlite') !== undefined;
  } catch {
    return false;
  }
}

describe('the SQLite driver shim', () => {
  it('iterates the rows of a statement that has no iterate (node:sqlite before Node 22.13) through all', () => {
    const rows = [{ id: 'a' }, { id: 'b' }];
    const statement = {
      run: () => undefined,
      get: () => rows[0],
      all: (...params: unknown[]) => rows.filter(() => params[0] === 'User'),
    } as unknown as SqlStatement;

    const shimmed = withIterate(statement);

    expect([...shimmed.iterate('User')]).toEqual(rows);
    expect(shimmed.get()).toEqual({ id: 'a' });
  });

  it('keeps a statement that iterates as it is', () => {
    const statement = {
      run: () => undefined,
      get: () => undefined,
      all: () => [],
      iterate: () => [][Symbol.iterator](),
    } as unknown as SqlStatement;

    expect(withIterate(statement)).toBe(statement);
  });

  it("uses the runtime's node:sqlite where Node has it, and then never loads better-sqlite3", () => {
    // better-sqlite3's addon is built for the Node that ran `npm ci` (CI: Node 20); loaded under
    // another Node line (CI runs the suite on the image's too) it fails on the ABI.
    const builtin = hasBuiltinSqlite();

    const db = openDatabase(':memory:');
    const rows = db.prepare('SELECT ? AS answer').all(42);
    db.close();

    expect(rows).toEqual([{ answer: 42 }]);
    expect(db.driver).toBe(builtin ? 'node:sqlite' : 'better-sqlite3');
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    expect(loaded.some((path) => path.includes('better-sqlite3'))).toBe(!builtin);
  });
});
