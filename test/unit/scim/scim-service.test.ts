import { describe, expect, it } from 'vitest';
import { ScimService, type ScimRequest } from '../../../src/scim/service.js';
import type { SqliteScimStore } from '../../../src/scim/store.js';
import {
  aScimGroup,
  aScimUser,
  aService,
  DIRSYNC,
  ENTERPRISE,
  GROUP,
  patch,
  USER,
} from './builders.js';

describe('SCIM service: resources', () => {
  it('creates a user with meta (created, lastModified, location, version) and reads it back by id', () => {
    const { call } = aService();

    const created = call('POST', '/Users', aScimUser('ann@corp.example.com', { externalId: 'a1' }));
    const read = call('GET', '/Users/id1');

    expect(created.status).toBe(201);
    expect(created.headers).toMatchObject({
      location: 'https://dirsync.test/scim/v2/Users/id1',
      etag: 'W/"1"',
    });
    expect(read.body).toMatchObject({
      schemas: [USER],
      id: 'id1',
      externalId: 'a1',
      userName: 'ann@corp.example.com',
      meta: {
        resourceType: 'User',
        created: '2026-01-02T03:04:05.000Z',
        lastModified: '2026-01-02T03:04:05.000Z',
        location: 'https://dirsync.test/scim/v2/Users/id1',
        version: 'W/"1"',
      },
    });
  });

  it('answers a duplicate userName (any case) with 409 uniqueness and stores nothing', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('ann@corp.example.com'));

    const again = call('POST', '/Users', aScimUser('ANN@corp.example.com'));

    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ scimType: 'uniqueness', status: '409' });
    expect(call('GET', '/Users').body.totalResults).toBe(1);
  });

  it.each([
    ['userName eq "ANN@corp.example.com"', 1],
    ['externalId eq "a1"', 1],
    ['externalId eq "A1"', 0],
    ['id eq "id1"', 1],
    ['emails[type eq "work"].value eq "Ann@Corp.Example.com"', 1],
    ['userName eq "ann@corp.example.com" and active eq true', 1],
    ['name.givenName sw "te"', 2],
    ['userName eq "nobody@corp.example.com"', 0],
  ])('filters users: %s', (filter, count) => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('ann@corp.example.com', { externalId: 'a1' }));
    call('POST', '/Users', aScimUser('bob@corp.example.com'));

    const list = call('GET', '/Users', undefined, `filter=${encodeURIComponent(filter)}`);

    expect(list.status).toBe(200);
    expect(list.body.totalResults).toBe(count);
  });

  it('filters ne on a multi-valued attribute as "no value equals"', () => {
    const { call } = aService();
    call(
      'POST',
      '/Users',
      aScimUser('ann@corp.example.com', {
        emails: [
          { type: 'work', value: 'ann@corp.example.com', primary: true },
          { type: 'home', value: 'ann@home.example.com' },
        ],
      }),
    );
    call('POST', '/Users', aScimUser('bob@corp.example.com'));

    const filter = 'emails.value ne "ANN@corp.example.com"';
    const list = call('GET', '/Users', undefined, `filter=${encodeURIComponent(filter)}`);

    expect(list.status).toBe(200);
    expect(list.body.Resources.map((r) => r['userName'])).toEqual(['bob@corp.example.com']);
  });

  it('pages with startIndex and count', () => {
    const { call } = aService();
    for (const who of ['a', 'b', 'c', 'd', 'e']) call('POST', '/Users', aScimUser(`${who}@x.test`));

    const page = call('GET', '/Users', undefined, 'startIndex=2&count=2');

    expect(page.body).toMatchObject({ totalResults: 5, startIndex: 2, itemsPerPage: 2 });
    expect(page.body.Resources.map((r) => r['userName'])).toEqual(['b@x.test', 'c@x.test']);
  });

  it('returns only the attributes asked for, and leaves out excludedAttributes (Entra reads groups without members)', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('ann@x.test'));
    call('POST', '/Groups', aScimGroup('Admins', ['id1']));

    const user = call('GET', '/Users/id1', undefined, 'attributes=userName');
    const groups = call('GET', '/Groups', undefined, 'excludedAttributes=members');

    expect(Object.keys(user.body).sort()).toEqual(['id', 'meta', 'schemas', 'userName']);
    expect(groups.body.Resources[0]).not.toHaveProperty('members');
    expect(groups.body.Resources[0]).toMatchObject({ displayName: 'Admins' });
  });

  it('replaces a user with PUT and bumps the version; a stale If-Match is 412', () => {
    const { call, store } = aService();
    call('POST', '/Users', aScimUser('ann@x.test'));

    const put = call('PUT', '/Users/id1', aScimUser('ann@x.test', { title: 'Engineer' }));

    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ title: 'Engineer', meta: { version: 'W/"2"' } });
    expect(store.get('User', 'id1')?.version).toBe(2);
  });

  it('deletes a user: 204, then 404, and the user leaves every group', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('ann@x.test'));
    call('POST', '/Groups', aScimGroup('Admins', ['id1']));

    expect(call('DELETE', '/Users/id1').status).toBe(204);
    expect(call('GET', '/Users/id1').status).toBe(404);
    expect(call('GET', '/Groups/id2').body.members).toEqual([]);
  });

  it('serves /ServiceProviderConfig, /ResourceTypes and /Schemas', () => {
    const { call } = aService();

    expect(call('GET', '/ServiceProviderConfig').body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true },
      etag: { supported: true },
    });
    expect(call('GET', '/ResourceTypes').body.Resources.map((r) => r['name'])).toEqual([
      'User',
      'Group',
    ]);
    expect(call('GET', '/Schemas').body.Resources.map((r) => r['id'])).toEqual([
      USER,
      ENTERPRISE,
      DIRSYNC,
      GROUP,
    ]);
    expect(call('GET', `/Schemas/${USER}`).status).toBe(200);
  });
});

describe('SCIM service: PATCH as identity providers send it', () => {
  it('reads Entra ID\'s "False" and "True" as booleans, and op in any case', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('ann@x.test'));

    const off = call(
      'PATCH',
      '/Users/id1',
      patch({ op: 'Replace', path: 'active', value: 'False' }),
    );
    const on = call('PATCH', '/Users/id1', patch({ op: 'replace', path: 'active', value: 'True' }));

    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    expect(on.body.active).toBe(true);
  });

  it('applies a PATCH without path carrying an object of attributes, extension attributes by full path', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('ann@x.test'));

    const res = call(
      'PATCH',
      '/Users/id1',
      patch({
        op: 'Add',
        value: {
          'name.givenName': 'Anne',
          displayName: 'Anne U.',
          [`${ENTERPRISE}:employeeNumber`]: '4711',
          [DIRSYNC]: { loginName: 'CORP\\anne' },
        },
      }),
    );

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      schemas: [USER, ENTERPRISE, DIRSYNC],
      name: { givenName: 'Anne', familyName: 'User' },
      displayName: 'Anne U.',
      [ENTERPRISE]: { employeeNumber: '4711' },
      [DIRSYNC]: { loginName: 'CORP\\anne' },
    });
  });

  it("reads Entra ID's manager sent as an id alone as {value: id}", () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('boss@x.test'));
    call('POST', '/Users', aScimUser('ann@x.test'));

    const res = call(
      'PATCH',
      '/Users/id2',
      patch({ op: 'Add', path: `${ENTERPRISE}:manager`, value: 'id1' }),
    );

    expect(res.status).toBe(200);
    expect(res.body[ENTERPRISE]).toEqual({ manager: { value: 'id1' } });
  });

  it('renames a group the way Okta does: a no-path replace carrying id and displayName', () => {
    const { call } = aService();
    call('POST', '/Groups', aScimGroup('Admins'));

    const res = call(
      'PATCH',
      '/Groups/id1',
      patch({ op: 'replace', value: { id: 'id1', displayName: 'IT Admins' } }),
    );

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'id1', displayName: 'IT Admins' });
  });

  it('replaces through a value-filter path: emails[type eq "work"].value', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('ann@x.test'));

    const res = call(
      'PATCH',
      '/Users/id1',
      patch({ op: 'replace', path: 'emails[type eq "work"].value', value: 'anne@x.test' }),
    );

    expect(res.body.emails).toEqual([{ type: 'work', value: 'anne@x.test', primary: true }]);
  });

  it("adds and removes members in batches; Entra's Remove with a value list removes only those members", () => {
    const { call } = aService();
    for (const who of ['a', 'b', 'c']) call('POST', '/Users', aScimUser(`${who}@x.test`));
    call('POST', '/Groups', aScimGroup('Admins'));

    call(
      'PATCH',
      '/Groups/id4',
      patch({
        op: 'Add',
        path: 'members',
        value: [{ value: 'id1' }, { value: 'id2' }, { value: 'id3' }],
      }),
    );
    const removed = call(
      'PATCH',
      '/Groups/id4',
      patch({ op: 'Remove', path: 'members', value: [{ value: 'id1' }, { value: 'id2' }] }),
    );

    expect(removed.status).toBe(204);
    expect(call('GET', '/Groups/id4').body.members?.map((m) => m.value)).toEqual(['id3']);
  });

  it('applies membership operations in order: added then removed in one PATCH is out, and the version moves once', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('a@x.test'));
    call('POST', '/Users', aScimUser('b@x.test'));
    call('POST', '/Groups', aScimGroup('Admins'));

    const res = call(
      'PATCH',
      '/Groups/id3',
      patch(
        { op: 'add', path: 'members', value: [{ value: 'id1' }, { value: 'id2' }] },
        { op: 'remove', path: 'members[value eq "id1"]' },
      ),
    );

    expect(res).toMatchObject({ status: 204, headers: { etag: 'W/"2"' } });
    expect(call('GET', '/Groups/id3').body.members?.map((m) => m.value)).toEqual(['id2']);
  });

  it.each([
    ['a value filter', { op: 'remove', path: 'members[value eq "id2"]' }],
    ['a value list', { op: 'remove', path: 'members', value: [{ value: 'id2' }] }],
  ])('removing a member that is not there is a no-op (%s), not an error', (_, op) => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('a@x.test'));
    call('POST', '/Users', aScimUser('b@x.test'));
    call('POST', '/Groups', aScimGroup('Admins', ['id1']));

    const res = call('PATCH', '/Groups/id3', patch(op));

    expect(res.status).toBe(204);
    const group = call('GET', '/Groups/id3').body;
    expect(group.members?.map((m) => m.value)).toEqual(['id1']);
    expect(group.meta.version).toBe('W/"1"');
  });

  it('answers a member naming an unknown user with a 400 naming the id, and stores nothing', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('a@x.test'));
    call('POST', '/Groups', aScimGroup('Admins'));

    const res = call(
      'PATCH',
      '/Groups/id2',
      patch({ op: 'add', path: 'members', value: [{ value: 'id1' }, { value: 'ghost-42' }] }),
    );

    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('ghost-42');
    expect(call('GET', '/Groups/id2').body.members).toEqual([]);
  });

  it('nests groups: a member of type Group', () => {
    const { call } = aService();
    call('POST', '/Groups', aScimGroup('Inner'));

    const outer = call('POST', '/Groups', {
      ...aScimGroup('Outer'),
      members: [{ value: 'id1', type: 'Group' }],
    });

    expect(outer.body.members).toMatchObject([{ value: 'id1', type: 'Group' }]);
  });
});

describe('SCIM service: bad input is a precise SCIM error and stores nothing', () => {
  it.each([
    [
      'an unknown schema',
      aScimUser('a@x.test', { schemas: [USER, 'urn:evil:2.0:User'] }),
      400,
      'invalidValue',
      'urn:evil:2.0:User',
    ],
    ['no schemas', { userName: 'a@x.test' }, 400, 'invalidSyntax', 'schemas'],
    [
      'a number for userName',
      aScimUser('a@x.test', { userName: 42 }),
      400,
      'invalidValue',
      'userName',
    ],
    [
      'a string for active',
      aScimUser('a@x.test', { active: 'maybe' }),
      400,
      'invalidValue',
      'active',
    ],
    [
      'an object for emails[0].value',
      aScimUser('a@x.test', { emails: [{ value: { x: 1 } }] }),
      400,
      'invalidValue',
      'emails[0].value',
    ],
    [
      'an unknown attribute',
      aScimUser('a@x.test', { shoeSize: 44 }),
      400,
      'invalidSyntax',
      'shoeSize',
    ],
    ['an empty userName', aScimUser('   '), 400, 'invalidValue', 'userName'],
    ['an array body', [aScimUser('a@x.test')], 400, 'invalidSyntax', 'JSON object'],
  ])('POST /Users with %s', (_, body, status, scimType, detail) => {
    const { call, writes } = aService();

    const res = call('POST', '/Users', body);

    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ scimType, status: String(status) });
    expect(res.body.detail).toContain(detail);
    expect(writes).toEqual([]);
    expect(call('GET', '/Users').body.totalResults).toBe(0);
  });

  it.each([
    'userName eq "x" or 1=1',
    "userName eq 'x'; DROP TABLE resources; --",
    'userName eq "x") or ("1" eq "1"',
    'shoeSize eq "44"',
    'userName',
  ])('refuses the filter %s with invalidFilter', (filter) => {
    const { call, store } = aService();
    call('POST', '/Users', aScimUser('a@x.test'));

    const res = call('GET', '/Users', undefined, `filter=${encodeURIComponent(filter)}`);

    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidFilter');
    expect(store.count('User')).toBe(1);
  });

  it('matches an injection-looking string literally', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('a@x.test'));

    const res = call(
      'GET',
      '/Users',
      undefined,
      `filter=${encodeURIComponent('userName eq "x\\" or \\"1\\" eq \\"1"')}`,
    );

    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(0);
  });

  it.each([
    ['an unknown attribute', { op: 'replace', path: 'shoeSize', value: '44' }, 'invalidPath'],
    [
      'an unknown attribute in a no-path value',
      { op: 'replace', value: { shoeSize: '44' } },
      'invalidPath',
    ],
    ['an unknown op', { op: 'frobnicate', path: 'active', value: true }, 'invalidSyntax'],
    ['a remove without path', { op: 'remove' }, 'noTarget'],
    ['a read-only attribute', { op: 'add', path: 'groups', value: [{ value: 'g' }] }, 'mutability'],
    ['a changed id', { op: 'replace', path: 'id', value: 'other' }, 'mutability'],
    ['a wrong type', { op: 'replace', path: 'active', value: 'perhaps' }, 'invalidValue'],
  ])('PATCH with %s', (_, op, scimType) => {
    const { call, writes } = aService();
    call('POST', '/Users', aScimUser('a@x.test'));
    writes.length = 0;

    const res = call('PATCH', '/Users/id1', patch(op));

    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe(scimType);
    expect(writes).toEqual([]);
    expect(call('GET', '/Users/id1').body.meta.version).toBe('W/"1"');
  });

  it('rolls back a PATCH whose second operation fails: the first is not kept either', () => {
    const { call } = aService();
    call('POST', '/Users', aScimUser('a@x.test'));

    const res = call(
      'PATCH',
      '/Users/id1',
      patch(
        { op: 'replace', path: 'title', value: 'Boss' },
        { op: 'replace', path: 'shoeSize', value: 1 },
      ),
    );

    expect(res.status).toBe(400);
    expect(call('GET', '/Users/id1').body).not.toHaveProperty('title');
  });

  it('group commit: a request refused inside a batch undoes its own writes only', () => {
    const { call, store } = aService();
    call('POST', '/Users', aScimUser('a@x.test'));
    call('POST', '/Groups', aScimGroup('Admins'));

    const answers = aBatch(store, [
      { method: 'POST', path: '/Users', body: aScimUser('b@x.test') },
      {
        method: 'PATCH',
        path: '/Groups/id2',
        body: patch({ op: 'add', path: 'members', value: [{ value: 'id1' }, { value: 'ghost' }] }),
      },
      { method: 'POST', path: '/Users', body: aScimUser('c@x.test') },
    ]);

    expect(answers.map((a) => ('status' in a ? a.status : a.message))).toEqual([201, 400, 201]);
    expect(store.count('User')).toBe(3);
    expect(store.members('id2')).toEqual([]);
  });

  it('answers an unknown id with 404 and an unknown endpoint with 404', () => {
    const { call } = aService();

    expect(call('GET', '/Users/nope').status).toBe(404);
    expect(
      call('PATCH', '/Groups/nope', patch({ op: 'add', path: 'members', value: [] })).status,
    ).toBe(404);
    expect(call('GET', '/Widgets').status).toBe(404);
  });
});

function aBatch(
  store: SqliteScimStore,
  requests: Omit<ScimRequest, 'query'>[],
): ReturnType<ScimService['handleAll']> {
  let n = 100;
  const service = new ScimService({ store, baseUrl: 'http://x', newId: () => `id${++n}` });
  return service.handleAll(requests.map((r) => ({ ...r, query: new URLSearchParams() })));
}
