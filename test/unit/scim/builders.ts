import { ScimService, type ScimResponse } from '../../../src/scim/service.js';
import { SqliteScimStore } from '../../../src/scim/store.js';

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const DIRSYNC = 'urn:ietf:params:scim:schemas:extension:dirsync:2.0:User';

/** The fields of SCIM answers the tests read. */
export interface Body {
  id: string;
  totalResults: number;
  itemsPerPage: number;
  startIndex: number;
  Resources: Record<string, unknown>[];
  scimType?: string;
  detail: string;
  status: string;
  members?: { value: string; type?: string }[];
  meta: { version: string; location: string; created: string; lastModified: string };
  [attribute: string]: unknown;
}

/** A SCIM user body with sensible defaults; override what the test is about. */
export function aScimUser(
  userName: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    schemas: [USER],
    userName,
    active: true,
    emails: [{ type: 'work', value: userName, primary: true }],
    name: { givenName: 'Test', familyName: 'User' },
    ...extra,
  };
}

export function aScimGroup(
  displayName: string,
  members: string[] = [],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    schemas: [GROUP],
    displayName,
    members: members.map((value) => ({ value })),
    ...extra,
  };
}

export const patch = (...Operations: Record<string, unknown>[]): Record<string, unknown> => ({
  schemas: [PATCH],
  Operations,
});

/** A service over an in-memory store, with ids id1, id2, ... and a fixed clock. */
export function aService(): {
  store: SqliteScimStore;
  writes: string[];
  call: (
    method: string,
    path: string,
    body?: unknown,
    query?: string,
  ) => { status: number; body: Body; headers: Record<string, string> };
} {
  const store = SqliteScimStore.open(':memory:');
  let n = 0;
  const writes: string[] = [];
  const service = new ScimService({
    store,
    baseUrl: 'https://dirsync.test/scim/v2',
    newId: () => `id${++n}`,
    clock: () => new Date('2026-01-02T03:04:05.000Z'),
    onWrite: (w) => writes.push(`${w.method} ${w.type} ${w.id}`),
  });
  const call = (method: string, path: string, body?: unknown, query = '') => {
    const res: ScimResponse = service.handle({
      method,
      path,
      query: new URLSearchParams(query),
      body,
    });
    return { status: res.status, body: (res.body ?? {}) as Body, headers: res.headers ?? {} };
  };
  return { store, writes, call };
}
