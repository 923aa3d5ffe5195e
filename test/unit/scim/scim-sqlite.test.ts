import { describe, expect, it } from 'vitest';
import { withIterate, type SqlStatement } from '../../../src/scim/sqlite.js';

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
});
