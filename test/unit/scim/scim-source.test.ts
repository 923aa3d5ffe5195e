import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScimConfig } from '../../../src/config/schema.js';
import { DirectoryError } from '../../../src/errors.js';
import { ScimService } from '../../../src/scim/service.js';
import { ScimSource } from '../../../src/scim/source.js';
import { SqliteScimStore } from '../../../src/scim/store.js';
import { aScimGroup, aScimUser, DIRSYNC, ENTERPRISE, USER, type Body } from './builders.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store file with what `push` sends through the service, and a source over it. */
function pushed(
  push: (call: (method: string, path: string, body?: unknown) => Body) => void,
  attributes: Record<string, unknown> = {},
): ScimSource {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-scim-source-'));
  dirs.push(dir);
  const config = ScimConfig.parse({
    tokens: ['0123456789abcdef0123'],
    store: { path: join(dir, 'scim.sqlite') },
    attributes,
  });
  const store = SqliteScimStore.open(config.store.path);
  let n = 0;
  const service = new ScimService({ store, baseUrl: 'http://x', newId: () => `id${++n}` });
  push((method, path, body) => {
    const res = service.handle({ method, path, query: new URLSearchParams(), body });
    if (res.status >= 300) throw new Error(JSON.stringify(res.body));
    return (res.body ?? {}) as Body;
  });
  store.close();
  return new ScimSource(config, () => new Date('2026-01-01T00:00:00Z'));
}

describe('the SCIM source', () => {
  it('maps the work email, else the primary one, else an address-like userName; the other emails are aliases', async () => {
    const source = pushed((call) => {
      call(
        'POST',
        '/Users',
        aScimUser('ann', {
          emails: [
            { type: 'home', value: 'ann@home.test', primary: true },
            { type: 'work', value: 'Ann@Corp.test' },
          ],
        }),
      );
      call(
        'POST',
        '/Users',
        aScimUser('bob', { emails: [{ type: 'other', value: 'bob@corp.test', primary: true }] }),
      );
      call('POST', '/Users', aScimUser('carol@corp.test', { emails: [] }));
      call('POST', '/Users', aScimUser('no-address', { emails: [] }));
    });

    const snapshot = await source.read({ groupsOfInterest: [] });

    expect(snapshot.users.map((u) => [u.email, u.aliases])).toEqual([
      ['ann@corp.test', ['ann@home.test']],
      ['bob@corp.test', []],
      ['carol@corp.test', []],
    ]);
    expect(snapshot.stats.usersWithoutEmail).toBe(1);
    expect(snapshot.warnings[0]?.message).toContain('no email address');
  });

  it('reads active false as disabled, names, logins from the dirsync extension and smart cards from a configured path', async () => {
    const source = pushed(
      (call) => {
        call(
          'POST',
          '/Users',
          aScimUser('ann@corp.test', {
            schemas: [USER, ENTERPRISE, DIRSYNC],
            active: false,
            name: { givenName: 'Ann', familyName: 'Smith' },
            [DIRSYNC]: { loginName: 'CORP\\ASmith' },
            [ENTERPRISE]: { employeeNumber: '004711' },
          }),
        );
      },
      { smartcards: `${ENTERPRISE}:employeeNumber` },
    );

    const [ann] = (await source.read({ groupsOfInterest: [] })).users;

    expect(ann).toMatchObject({
      id: 'id1',
      email: 'ann@corp.test',
      firstName: 'Ann',
      lastName: 'Smith',
      disabled: true,
      logins: ['asmith'],
      smartcards: ['004711'],
    });
  });

  it('takes logins from a configured path, e.g. Okta sending the login in the enterprise employeeNumber', async () => {
    const source = pushed(
      (call) => {
        call(
          'POST',
          '/Users',
          aScimUser('ann@corp.test', {
            schemas: [USER, ENTERPRISE],
            [ENTERPRISE]: { employeeNumber: 'asmith' },
          }),
        );
      },
      { logins: [`${ENTERPRISE}:employeeNumber`] },
    );

    const [ann] = (await source.read({ groupsOfInterest: [] })).users;

    expect(ann?.logins).toEqual(['asmith']);
  });

  it('names rule groups by displayName in any case or by externalId, nested groups resolved, cycles harmless', async () => {
    const source = pushed((call) => {
      call('POST', '/Users', aScimUser('ann@corp.test'));
      call('POST', '/Users', aScimUser('bob@corp.test'));
      call('POST', '/Groups', aScimGroup('Helpdesk', ['id1'])); // id3
      call('POST', '/Groups', {
        ...aScimGroup('IT Admins', [], { externalId: 'grp-admins' }),
        members: [{ value: 'id3', type: 'Group' }],
      }); // id4
      // A cycle: Helpdesk is in IT Admins, IT Admins in Helpdesk.
      call('PATCH', '/Groups/id3', {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'add', path: 'members', value: [{ value: 'id4', type: 'Group' }] }],
      });
      call('POST', '/Groups', aScimGroup('Owners', ['id2'])); // id5
    });

    const snapshot = await source.read({ groupsOfInterest: ['it admins', 'grp-admins', 'OWNERS'] });

    const groupsOf = new Map(snapshot.users.map((u) => [u.email, u.groups]));
    expect(groupsOf.get('ann@corp.test')).toEqual(['grp-admins', 'it admins']);
    expect(groupsOf.get('bob@corp.test')).toEqual(['owners']);
  });

  it('maps attribute paths written in any case, and gives users who share groups each the same groups, in push order', async () => {
    const source = pushed(
      (call) => {
        call('POST', '/Users', aScimUser('ann@corp.test', { name: { givenName: 'Ann' } }));
        call('POST', '/Users', aScimUser('bob@corp.test', { name: { givenName: 'Bob' } }));
        call('POST', '/Users', aScimUser('carol@corp.test', { name: { givenName: 'Carol' } }));
        call('POST', '/Groups', aScimGroup('Staff', ['id3', 'id1'])); // id4
        call('POST', '/Groups', aScimGroup('All', [])); // id5
        call('PATCH', '/Groups/id5', {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'add', path: 'members', value: [{ value: 'id4', type: 'Group' }] }],
        });
      },
      { email: ['Emails[Type eq "work"].VALUE'], firstName: 'NAME.givenname' },
    );

    const snapshot = await source.read({ groupsOfInterest: [] });

    expect(snapshot.users.map((u) => [u.id, u.email, u.firstName, u.groups])).toEqual([
      ['id1', 'ann@corp.test', 'Ann', ['all', 'staff']],
      ['id2', 'bob@corp.test', 'Bob', []],
      ['id3', 'carol@corp.test', 'Carol', ['all', 'staff']],
    ]);
    expect(snapshot.stats.usersPerBase).toEqual({ '/Users': 3 });
  });

  it('stops the read when a rule group was not pushed, as for a missing LDAP rule group', async () => {
    const source = pushed((call) => {
      call('POST', '/Users', aScimUser('ann@corp.test'));
      call('POST', '/Groups', aScimGroup('IT Admins', ['id1']));
    });

    const read = source.read({ groupsOfInterest: ['IT-Admins-renamed'] });

    await expect(read).rejects.toThrow(DirectoryError);
    await expect(read).rejects.toThrow(
      /IT-Admins-renamed, named in the rules, has not been pushed/,
    );
  });

  it('refuses an empty store: nothing pushed yet is never a directory without users', async () => {
    const source = pushed(() => {});

    await expect(source.read({ groupsOfInterest: [] })).rejects.toThrow(/no user has been pushed/);
  });

  it('sees a deleted user as gone from the directory', async () => {
    const source = pushed((call) => {
      call('POST', '/Users', aScimUser('ann@corp.test'));
      call('POST', '/Users', aScimUser('bob@corp.test'));
      call('DELETE', '/Users/id2');
    });

    const snapshot = await source.read({ groupsOfInterest: [] });

    expect(snapshot.users.map((u) => u.email)).toEqual(['ann@corp.test']);
  });
});
