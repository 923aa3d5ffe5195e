import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openDatabase, type SqlDatabase, type SqlStatement } from './sqlite.js';

/** What the store keeps of a SCIM resource: its attributes, without `id`, `meta` or `members`. */
export interface StoredResource {
  type: ResourceType;
  id: string;
  /** The attributes as the identity provider sent them (validated, quirks normalized). */
  data: Record<string, unknown>;
  /** `userName` (User) or `displayName` (Group), lower-cased: unique per type. */
  nameKey: string;
  externalId: string | undefined;
  created: string;
  lastModified: string;
  /** Bumped on every write: the ETag is `W/"<version>"`. */
  version: number;
}

export type ResourceType = 'User' | 'Group';

export interface Member {
  value: string;
  type: ResourceType;
  display?: string | undefined;
}

/**
 * Where pushed users and groups live. Synchronous and transactional: `transaction` runs a whole
 * request's read-modify-write at once, so concurrent requests never interleave inside one
 * (a PATCH is applied whole or not at all, even across a crash). A server database for several
 * replicas would implement the same calls inside its own transactions.
 */
export interface ScimStore {
  /** Runs `fn` as one transaction: all of its writes or none. Nested calls are savepoints. */
  transaction<T>(fn: () => T): T;
  get(type: ResourceType, id: string): StoredResource | undefined;
  /** By lower-cased userName / displayName. */
  findByName(type: ResourceType, nameKey: string): StoredResource[];
  findByExternalId(type: ResourceType, externalId: string): StoredResource[];
  /** In creation order; `offset`/`limit` for paging. */
  list(type: ResourceType, page?: { offset: number; limit: number }): StoredResource[];
  count(type: ResourceType): number;
  insert(resource: StoredResource): void;
  /** Replaces data, nameKey, externalId, lastModified and version. */
  update(resource: StoredResource): void;
  /** Deletes the resource, its members and its membership in groups. */
  delete(type: ResourceType, id: string): boolean;
  members(groupId: string): Member[];
  /** Which of `values` are members of the group (one indexed look-up each). */
  membersAmong(groupId: string, values: readonly string[]): Set<string>;
  /** Adds members, keeping those already there. */
  addMembers(groupId: string, members: readonly Member[]): void;
  removeMembers(groupId: string, values: readonly string[]): void;
  /** Every membership row: group id, member id, member type. */
  memberships(): { groupId: string; value: string; type: ResourceType }[];
  /**
   * Each resource of a type, in creation order, as its id and attributes only: streamed, so
   * that reading a whole store as a directory never holds every row at once.
   */
  scan(type: ResourceType, each: (id: string, data: Record<string, unknown>) => void): void;
  /** Each membership row (group id, member id), streamed. */
  scanMemberships(each: (groupId: string, value: string) => void): void;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS resources (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  name_key TEXT NOT NULL,
  external_id TEXT,
  data TEXT NOT NULL,
  created TEXT NOT NULL,
  last_modified TEXT NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS resources_name ON resources(type, name_key);
CREATE INDEX IF NOT EXISTS resources_external ON resources(type, external_id);
CREATE INDEX IF NOT EXISTS resources_seq ON resources(type, seq);
CREATE UNIQUE INDEX IF NOT EXISTS resources_order ON resources(seq);
CREATE TABLE IF NOT EXISTS members (
  group_id TEXT NOT NULL,
  value TEXT NOT NULL,
  type TEXT NOT NULL,
  display TEXT,
  PRIMARY KEY (group_id, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_value ON members(value);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schemaVersion', '1');
`;

type Row = Record<string, unknown>;

function toResource(row: Row): StoredResource {
  return {
    type: row['type'] as ResourceType,
    id: row['id'] as string,
    data: JSON.parse(row['data'] as string) as Record<string, unknown>,
    nameKey: row['name_key'] as string,
    externalId: (row['external_id'] as string | null) ?? undefined,
    created: row['created'] as string,
    lastModified: row['last_modified'] as string,
    version: Number(row['version']),
  };
}

/** The SQLite store: one file, WAL, synchronous=FULL (a write answered is a write kept). */
export class SqliteScimStore implements ScimStore {
  readonly #db: SqlDatabase;
  readonly #statements = new Map<string, SqlStatement>();
  #depth = 0;

  private constructor(db: SqlDatabase) {
    this.#db = db;
  }

  /** Opens (creating when needed) the store at `path`; `:memory:` for tests. */
  static open(path: string, options: { readonly?: boolean } = {}): SqliteScimStore {
    if (path !== ':memory:' && options.readonly !== true)
      mkdirSync(dirname(path), { recursive: true });
    const db = openDatabase(path, options);
    if (options.readonly !== true) {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
      db.exec(SCHEMA);
    }
    db.exec('PRAGMA busy_timeout = 5000');
    return new SqliteScimStore(db);
  }

  get driver(): SqlDatabase['driver'] {
    return this.#db.driver;
  }

  #sql(sql: string): SqlStatement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) {
      // Nested (one request of a batch): a savepoint, so its failure undoes its writes only.
      const name = `s${this.#depth}`;
      this.#db.exec(`SAVEPOINT ${name}`);
      this.#depth++;
      try {
        const result = fn();
        this.#db.exec(`RELEASE ${name}`);
        return result;
      } catch (error) {
        this.#db.exec(`ROLLBACK TO ${name}`);
        this.#db.exec(`RELEASE ${name}`);
        throw error;
      } finally {
        this.#depth--;
      }
    }
    this.#db.exec('BEGIN IMMEDIATE');
    this.#depth++;
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    } finally {
      this.#depth--;
    }
  }

  /** Runs `fn` on one consistent snapshot of the store (a read transaction). */
  snapshot<T>(fn: () => T): T {
    this.#db.exec('BEGIN');
    try {
      return fn();
    } finally {
      this.#db.exec('COMMIT');
    }
  }

  get(type: ResourceType, id: string): StoredResource | undefined {
    const row = this.#sql('SELECT * FROM resources WHERE id = ? AND type = ?').get(id, type);
    return row === undefined ? undefined : toResource(row);
  }

  findByName(type: ResourceType, nameKey: string): StoredResource[] {
    return this.#sql('SELECT * FROM resources WHERE type = ? AND name_key = ?')
      .all(type, nameKey)
      .map(toResource);
  }

  findByExternalId(type: ResourceType, externalId: string): StoredResource[] {
    return this.#sql('SELECT * FROM resources WHERE type = ? AND external_id = ? ORDER BY seq')
      .all(type, externalId)
      .map(toResource);
  }

  list(type: ResourceType, page?: { offset: number; limit: number }): StoredResource[] {
    if (page === undefined)
      return this.#sql('SELECT * FROM resources WHERE type = ? ORDER BY seq')
        .all(type)
        .map(toResource);
    return this.#sql('SELECT * FROM resources WHERE type = ? ORDER BY seq LIMIT ? OFFSET ?')
      .all(type, page.limit, page.offset)
      .map(toResource);
  }

  count(type: ResourceType): number {
    return Number(this.#sql('SELECT count(*) AS n FROM resources WHERE type = ?').get(type)!['n']);
  }

  insert(r: StoredResource): void {
    this.#sql(
      `INSERT INTO resources (id, type, name_key, external_id, data, created, last_modified, version, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM resources))`,
    ).run(
      r.id,
      r.type,
      r.nameKey,
      r.externalId ?? null,
      JSON.stringify(r.data),
      r.created,
      r.lastModified,
      r.version,
    );
  }

  update(r: StoredResource): void {
    this.#sql(
      `UPDATE resources SET name_key = ?, external_id = ?, data = ?, last_modified = ?, version = ?
       WHERE id = ? AND type = ?`,
    ).run(
      r.nameKey,
      r.externalId ?? null,
      JSON.stringify(r.data),
      r.lastModified,
      r.version,
      r.id,
      r.type,
    );
  }

  delete(type: ResourceType, id: string): boolean {
    return this.transaction(() => {
      const found = this.#sql('SELECT 1 FROM resources WHERE id = ? AND type = ?').get(id, type);
      if (found === undefined) return false;
      this.#sql('DELETE FROM resources WHERE id = ?').run(id);
      this.#sql('DELETE FROM members WHERE group_id = ?').run(id);
      this.#sql('DELETE FROM members WHERE value = ?').run(id);
      return true;
    });
  }

  members(groupId: string): Member[] {
    return this.#sql('SELECT value, type, display FROM members WHERE group_id = ? ORDER BY value')
      .all(groupId)
      .map((row) => ({
        value: row['value'] as string,
        type: row['type'] as ResourceType,
        ...(row['display'] === null ? {} : { display: row['display'] as string }),
      }));
  }

  membersAmong(groupId: string, values: readonly string[]): Set<string> {
    const statement = this.#sql('SELECT 1 AS x FROM members WHERE group_id = ? AND value = ?');
    return new Set(values.filter((v) => statement.get(groupId, v) !== undefined));
  }

  addMembers(groupId: string, members: readonly Member[]): void {
    const statement = this.#sql(
      'INSERT OR IGNORE INTO members (group_id, value, type, display) VALUES (?, ?, ?, ?)',
    );
    this.transaction(() => {
      for (const m of members) statement.run(groupId, m.value, m.type, m.display ?? null);
    });
  }

  removeMembers(groupId: string, values: readonly string[]): void {
    const statement = this.#sql('DELETE FROM members WHERE group_id = ? AND value = ?');
    this.transaction(() => {
      for (const v of values) statement.run(groupId, v);
    });
  }

  memberships(): { groupId: string; value: string; type: ResourceType }[] {
    return this.#sql('SELECT group_id, value, type FROM members')
      .all()
      .map((row) => ({
        groupId: row['group_id'] as string,
        value: row['value'] as string,
        type: row['type'] as ResourceType,
      }));
  }

  scan(type: ResourceType, each: (id: string, data: Record<string, unknown>) => void): void {
    for (const row of this.#sql(
      'SELECT id, data FROM resources WHERE type = ? ORDER BY seq',
    ).iterate(type))
      each(row['id'] as string, JSON.parse(row['data'] as string) as Record<string, unknown>);
  }

  scanMemberships(each: (groupId: string, value: string) => void): void {
    for (const row of this.#sql('SELECT group_id, value FROM members').iterate())
      each(row['group_id'] as string, row['value'] as string);
  }

  close(): void {
    this.#db.close();
  }
}
