import { describe, expect, it } from 'vitest';
import { mapUser, parseAliases, transformLogin } from '../../../src/directory/build.js';
import { normalizeDn } from '../../../src/directory/dn.js';
import {
  activeDirectory,
  fileTimeToDate,
  guidToString,
  openLdap,
  withAttributes,
} from '../../../src/directory/flavors.js';
import {
  resolveMemberships,
  type GroupNode,
  type MemberNode,
} from '../../../src/directory/groups.js';
import { isOtherPartition } from '../../../src/directory/ldap/connection.js';
import type { DirectoryWarning, RawEntry } from '../../../src/directory/model.js';

const NOW = new Date('2026-06-01T00:00:00Z');

function anEntry(dn: string, attrs: Record<string, (string | Buffer)[]>): RawEntry {
  return { dn, attributes: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), v])) };
}

/** FILETIME (100 ns since 1601) of a date. */
const fileTime = (d: Date): string => String(BigInt(d.getTime()) * 10000n + 116444736000000000n);

describe('Active Directory flavor', () => {
  it('decodes objectGUID with its little-endian first groups', () => {
    const bytes = Buffer.from('33221100554477668899aabbccddeeff', 'hex');
    expect(guidToString(bytes)).toBe('00112233-4455-6677-8899-aabbccddeeff');
  });

  it.each([
    ['0', false],
    ['9223372036854775807', false],
    [fileTime(new Date('2026-05-31T00:00:00Z')), true],
    [fileTime(new Date('2026-06-02T00:00:00Z')), false],
  ])('accountExpires %s -> expired %s', (value, expired) => {
    expect(activeDirectory.expired(anEntry('cn=a', { accountExpires: [value] }), NOW)).toBe(
      expired,
    );
  });

  it('reads FILETIME', () => {
    expect(fileTimeToDate(fileTime(NOW))?.toISOString()).toBe(NOW.toISOString());
  });

  it.each([
    ['512', false],
    ['514', true],
    ['66050', true],
    ['66048', false],
  ])('userAccountControl %s -> disabled %s', (uac, disabled) => {
    expect(activeDirectory.disabled(anEntry('cn=a', { userAccountControl: [uac] }))).toBe(disabled);
  });

  it('maps a user: GUID id, aliases from proxyAddresses and UPN, login without domain', () => {
    const warnings: DirectoryWarning[] = [];
    const guid = Buffer.from('33221100554477668899aabbccddeeff', 'hex');
    const mapped = mapUser(
      anEntry('CN=Joe,OU=Staff,DC=corp', {
        objectGUID: [guid],
        mail: [' Joe.Dev@Corp.Example.com '],
        proxyAddresses: [
          'SMTP:joe.dev@corp.example.com',
          'smtp:JD@corp.example.com',
          'X500:/o=Org/cn=joe',
          'sip:joe@corp.example.com',
        ],
        userPrincipalName: ['jdev@corp.local'],
        sAMAccountName: ['CORP\\JDev'],
        givenName: ['Joe'],
        sn: ['Dev'],
        userAccountControl: ['512'],
      }),
      activeDirectory,
      NOW,
      warnings,
    );
    expect(mapped?.user).toEqual({
      id: '00112233-4455-6677-8899-aabbccddeeff',
      dn: 'CN=Joe,OU=Staff,DC=corp',
      email: 'joe.dev@corp.example.com',
      aliases: ['jd@corp.example.com', 'jdev@corp.local'],
      firstName: 'Joe',
      lastName: 'Dev',
      logins: ['jdev'],
      smartcards: [],
      groups: [],
      disabled: false,
      expired: false,
    });
    expect(warnings).toEqual([]);
  });

  it('falls back to the primary SMTP address when mail is empty', () => {
    const mapped = mapUser(
      anEntry('CN=A,DC=x', { proxyAddresses: ['smtp:b@x.com', 'SMTP:A@x.com'] }),
      activeDirectory,
      NOW,
      [],
    );
    expect(mapped?.user.email).toBe('a@x.com');
    expect(mapped?.user.aliases).toEqual(['b@x.com']);
  });
});

describe('OpenLDAP flavor and mapping', () => {
  it('uses entryUUID, uid and pwdAccountLockedTime', () => {
    const mapped = mapUser(
      anEntry('uid=ann,ou=People,dc=x', {
        entryUUID: ['u-1'],
        mail: ['ann@x.com'],
        uid: ['Ann'],
        pwdAccountLockedTime: ['000001010000Z'],
      }),
      openLdap,
      NOW,
      [],
    );
    expect(mapped?.user).toMatchObject({
      id: 'u-1',
      logins: ['ann'],
      disabled: true,
      expired: false,
    });
  });

  it('falls back to the DN as id', () => {
    const mapped = mapUser(anEntry('uid=ann,dc=x', { mail: ['ann@x.com'] }), openLdap, NOW, []);
    expect(mapped?.user.id).toBe('uid=ann,dc=x');
  });

  it('keeps digit-only smart card numbers and warns about the rest with the DN', () => {
    const warnings: DirectoryWarning[] = [];
    const flavor = withAttributes(openLdap, { smartcards: 'employeeNumber' });
    const mapped = mapUser(
      anEntry('uid=ann,dc=x', { mail: ['ann@x.com'], employeeNumber: ['0042', 'AB12', ' 7 '] }),
      flavor,
      NOW,
      warnings,
    );
    expect(mapped?.user.smartcards).toEqual(['0042', '7']);
    expect(warnings).toEqual([
      { dn: 'uid=ann,dc=x', message: expect.stringContaining('"AB12"') as string },
    ]);
  });

  it('skips a user without an email, with a warning', () => {
    const warnings: DirectoryWarning[] = [];
    expect(mapUser(anEntry('uid=x,dc=x', { uid: ['x'] }), openLdap, NOW, warnings)).toBeUndefined();
    expect(warnings[0]?.dn).toBe('uid=x,dc=x');
  });

  it('lets config attributes override the flavor key by key', () => {
    const flavor = withAttributes(openLdap, { logins: ['cn'], email: undefined });
    expect(flavor.attributes.logins).toEqual(['cn']);
    expect(flavor.attributes.email).toBe('mail');
  });

  it.each([
    ['CORP\\JDoe', 'jdoe'],
    [' jdoe ', 'jdoe'],
    ['JDOE', 'jdoe'],
  ])('transforms login %j to %j', (input, output) => {
    expect(transformLogin(input)).toBe(output);
  });

  it('parses aliases', () => {
    expect(
      parseAliases(['SMTP:A@x.com', 'smtp:b@x.com', 'x500:foo', 'c@x.com', 'nonsense']),
    ).toEqual({
      primary: 'a@x.com',
      aliases: ['a@x.com', 'b@x.com', 'c@x.com'],
    });
  });
});

describe('resolveMemberships', () => {
  const dn = (s: string): string => normalizeDn(s);
  const user = (name: string, memberOf: string[] = []): MemberNode => ({
    dn: dn(`uid=${name},dc=x`),
    uids: [name],
    memberOf: memberOf.map(dn),
  });
  const group = (name: string, members: string[], extra: Partial<GroupNode> = {}): GroupNode => ({
    dn: dn(`cn=${name},dc=x`),
    name,
    members: members.map(dn),
    memberUids: [],
    memberOf: [],
    ...extra,
  });

  it('resolves nesting through groupOfNames, memberUid and memberOf, and survives a cycle', () => {
    const users = [user('ann'), user('bob'), user('cy', ['cn=leaf,dc=x']), user('dee')];
    const groups = [
      group('top', ['cn=mid,dc=x']),
      group('mid', ['cn=leaf,dc=x', 'uid=ann,dc=x']),
      group('leaf', ['uid=bob,dc=x']),
      group('cycle-a', ['cn=cycle-b,dc=x']),
      group('cycle-b', ['cn=cycle-a,dc=x', 'uid=dee,dc=x']),
      group('posix', [], { memberUids: ['dee'] }),
    ];
    const [ann, bob, cy, dee] = resolveMemberships(users, groups);
    expect(ann).toEqual([dn('cn=mid,dc=x'), dn('cn=top,dc=x')]);
    expect(bob).toEqual([dn('cn=leaf,dc=x'), dn('cn=mid,dc=x'), dn('cn=top,dc=x')]);
    expect(cy).toEqual([dn('cn=leaf,dc=x'), dn('cn=mid,dc=x'), dn('cn=top,dc=x')]);
    expect(dee).toEqual([dn('cn=cycle-a,dc=x'), dn('cn=cycle-b,dc=x'), dn('cn=posix,dc=x')]);
  });

  it('follows a group memberOf upward and ignores groups it was not given', () => {
    const users = [user('ann', ['cn=elsewhere,dc=y'])];
    const groups = [
      group('team', ['uid=ann,dc=x'], { memberOf: [dn('cn=dept,dc=x')] }),
      group('dept', []),
    ];
    expect(resolveMemberships(users, groups)[0]).toEqual([dn('cn=dept,dc=x'), dn('cn=team,dc=x')]);
  });

  it('gives a user read twice (overlapping base DNs) the same groups at both places', () => {
    const users = [user('ann'), user('bob'), user('ann')];
    const groups = [group('team', ['uid=ann,dc=x']), group('all', ['cn=team,dc=x'])];
    expect(resolveMemberships(users, groups)).toEqual([
      [dn('cn=all,dc=x'), dn('cn=team,dc=x')],
      [],
      [dn('cn=all,dc=x'), dn('cn=team,dc=x')],
    ]);
  });

  it('counts a group named twice for a user (member and memberOf) once, and sorts by DN', () => {
    const users = [user('ann', ['cn=b,dc=x']), user('bob')];
    const groups = [
      group('b', ['uid=ann,dc=x', 'uid=bob,dc=x']),
      group('a', ['uid=bob,dc=x', 'uid=ann,dc=x']),
    ];
    const [ann, bob] = resolveMemberships(users, groups);
    expect(ann).toEqual([dn('cn=a,dc=x'), dn('cn=b,dc=x')]);
    expect(bob).toEqual(ann);
  });

  it('gives a user whose entry is also read as a group the groups that list it', () => {
    // rfc2307bis user private groups: the user entry carries posixGroup too.
    const users = [user('jdoe')];
    const groups = [
      group('jdoe', [], { dn: dn('uid=jdoe,dc=x'), memberOf: [dn('cn=staff,dc=x')] }),
      group('admins', ['uid=jdoe,dc=x']),
      group('staff', []),
    ];
    expect(resolveMemberships(users, groups)[0]).toEqual([
      dn('cn=admins,dc=x'),
      dn('cn=staff,dc=x'),
    ]);
  });

  it('grants nothing through a memberUid that names several users, and says so', () => {
    // bob's login is ann's uid: which of them the group means cannot be told.
    const users = [user('ann'), { ...user('bob'), uids: ['bob', 'ann'] }, user('cy')];
    const groups = [group('posix', [], { memberUids: ['ann', 'cy'] })];
    const warnings: DirectoryWarning[] = [];
    const [ann, bob, cy] = resolveMemberships(users, groups, warnings);
    expect(ann).toEqual([]);
    expect(bob).toEqual([]);
    expect(cy).toEqual([dn('cn=posix,dc=x')]);
    expect(warnings).toEqual([
      {
        dn: dn('cn=posix,dc=x'),
        message: expect.stringContaining(
          `memberUid ann names several users (${dn('uid=ann,dc=x')}; ${dn('uid=bob,dc=x')})`,
        ) as string,
      },
    ]);
  });

  it('walks a deep chain and a wide fan of parents', () => {
    const depth = 50;
    const chain = Array.from({ length: depth }, (_, i) =>
      group(
        `g${String(i).padStart(2, '0')}`,
        i === 0 ? ['uid=ann,dc=x'] : [`cn=g${String(i - 1).padStart(2, '0')},dc=x`],
      ),
    );
    const [ann] = resolveMemberships([user('ann')], chain);
    expect(ann).toHaveLength(depth);
    expect(ann).toEqual([...chain.map((g) => g.dn)].sort());
  });
});

describe('review fixes', () => {
  it('falls back to userPrincipalName when there is neither mail nor a primary SMTP address', () => {
    const mapped = mapUser(
      anEntry('CN=Jane,DC=x', {
        userPrincipalName: ['Jane.Doe@Corp.Example.com'],
        sAMAccountName: ['jane'],
      }),
      activeDirectory,
      NOW,
      [],
    );
    expect(mapped?.user.email).toBe('jane.doe@corp.example.com');
  });

  it.each([
    ['000001010000Z', true],
    ['20260601120000Z', false],
  ])(
    'pwdAccountLockedTime %s -> disabled %s (only an administrative lock suspends)',
    (value, disabled) => {
      expect(openLdap.disabled(anEntry('uid=a,dc=x', { pwdAccountLockedTime: [value] }))).toBe(
        disabled,
      );
    },
  );
});

describe('continuation references', () => {
  it.each([
    ['ldap://corp.example.com/DC=DomainDnsZones,DC=corp,DC=example,DC=com', true],
    ['ldap://corp.example.com/DC=ForestDnsZones,DC=corp,DC=example,DC=com', true],
    ['ldap://corp.example.com/CN=Configuration,DC=corp,DC=example,DC=com', true],
    ['ldap://other.example.com/OU=Delegated,DC=corp,DC=example,DC=com', false],
    ['not a url', false],
  ])('%s is another partition: %s', (reference, expected) => {
    expect(isOtherPartition(reference)).toBe(expected);
  });
});
