import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LdifSourceConfig } from '../../../src/config/source.js';
import { normalizeDn } from '../../../src/directory/dn.js';
import { LdifSource } from '../../../src/directory/ldif/source.js';
import { DirectoryError } from '../../../src/errors.js';
import { openLdapFixture } from '../../fixtures/ldap/openldap-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'dirsync-ldif-'));
const fixture = openLdapFixture({ users: 2600, ppolicy: true });
const file = join(dir, 'fixture.ldif');
writeFileSync(file, fixture.ldif);

function source(extra: Record<string, unknown> = {}): LdifSource {
  return new LdifSource(
    LdifSourceConfig.parse({
      type: 'ldif',
      file,
      users: { baseDns: [fixture.peopleBase, fixture.contractorsBase] },
      groups: { baseDns: [fixture.groupsBase] },
      attributes: { smartcards: 'employeeNumber' },
      ...extra,
    }),
  );
}

const g = (cn: string): string => normalizeDn(`cn=${cn},${fixture.groupsBase}`);

describe('LDIF source', () => {
  it('reads every user with email, counts per base DN, and warns about the rest', async () => {
    const snapshot = await source().read({ groupsOfInterest: [] });
    expect(snapshot.users).toHaveLength(fixture.users - 1 + fixture.contractors);
    expect(snapshot.stats.usersPerBase).toEqual({
      [normalizeDn(fixture.peopleBase)]: fixture.users,
      [normalizeDn(fixture.contractorsBase)]: fixture.contractors,
    });
    expect(snapshot.stats.usersWithoutEmail).toBe(1);
    expect(snapshot.warnings.map((w) => w.dn)).toEqual([
      `uid=user0007,${fixture.peopleBase}`,
      `uid=user0009,${fixture.peopleBase}`,
    ]);
  });

  it('normalizes emails, logins, smart cards and the locked flag', async () => {
    const snapshot = await source().read({ groupsOfInterest: [] });
    const byEmail = new Map(snapshot.users.map((u) => [u.email, u]));
    expect(byEmail.get('user0005@example.com')?.logins).toEqual(['user0005']);
    expect(byEmail.get('user0010@example.com')?.smartcards).toEqual(['100010']);
    expect(byEmail.get('user0006@example.com')?.disabled).toBe(true);
    expect(byEmail.get('user0001@example.com')?.disabled).toBe(false);
  });

  it('resolves nested groups, restricted to the groups of interest', async () => {
    const snapshot = await source().read({
      groupsOfInterest: [
        `CN=Owners,${fixture.groupsBase.toUpperCase()}`,
        `cn=admins,${fixture.groupsBase}`,
      ],
    });
    const groupsOf = (email: string): readonly string[] | undefined =>
      snapshot.users.find((u) => u.email === email)?.groups;
    expect(groupsOf('user0001@example.com')).toEqual([g('owners')]);
    expect(groupsOf('user0003@example.com')).toEqual([g('admins')]);
    expect(groupsOf('user0004@example.com')).toEqual([]);
    expect([...snapshot.groups.keys()].sort()).toEqual([g('admins'), g('owners')]);
  });

  it('resolves every group when none is named, through cycles and memberUid', async () => {
    const snapshot = await source().read({ groupsOfInterest: [] });
    const groupsOf = (email: string): readonly string[] | undefined =>
      snapshot.users.find((u) => u.email === email)?.groups;
    expect(groupsOf('user0010@example.com')).toEqual([g('all-staff'), g('cycle-a'), g('cycle-b')]);
    expect(groupsOf('user0012@example.com')).toEqual([g('all-staff'), g('posix-devs')]);
    expect(groupsOf('user2500@example.com')).toEqual([]);
    expect(snapshot.users.filter((u) => u.groups.includes(g('all-staff')))).toHaveLength(1999);
  });

  it('refuses an empty read', async () => {
    await expect(
      source({ users: { baseDns: ['ou=Nobody,dc=example,dc=com'] } }).read({
        groupsOfInterest: [],
      }),
    ).rejects.toThrow(DirectoryError);
  });

  it('refuses a missing file with its path', async () => {
    const missing = new LdifSource(
      LdifSourceConfig.parse({ type: 'ldif', file: join(dir, 'nope.ldif') }),
    );
    await expect(missing.read({ groupsOfInterest: [] })).rejects.toThrow(/nope\.ldif/);
  });
});

describe('LDIF source and the groups the rules name', () => {
  it('refuses a read when a group named in the rules does not exist', async () => {
    const read = source().read({ groupsOfInterest: [`cn=owner,${fixture.groupsBase}`] });
    await expect(read).rejects.toThrow(
      /cn=owner,ou=Groups,dc=example,dc=com, named in the rules, was not found/,
    );
  });
});

describe('LDIF source with other login attributes', () => {
  it('still resolves posixGroup memberUid through the uid attribute', async () => {
    const snapshot = await source({ attributes: { logins: ['cn'] } }).read({
      groupsOfInterest: [],
    });
    const groupsOf = (email: string): readonly string[] | undefined =>
      snapshot.users.find((u) => u.email === email)?.groups;
    expect(groupsOf('user0004@example.com')).toContain(g('posix-devs'));
  });
});
