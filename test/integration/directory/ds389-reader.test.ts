import { beforeAll, describe, expect, inject, it } from 'vitest';
import { LdapSourceConfig } from '../../../src/config/source.js';
import { normalizeDn } from '../../../src/directory/dn.js';
import { LdapSource } from '../../../src/directory/ldap/source.js';
import type { DirectorySnapshot, DirectoryUser } from '../../../src/directory/model.js';
import { DirectoryError } from '../../../src/errors.js';
import {
  addDs389Ldif,
  ds389OrSkip,
  ds389UnavailableReason,
  type Ds389Connection,
} from '../../support/ds389.js';

const ds = ds389OrSkip(inject('ds389'));
if (ds === undefined) {
  console.warn(
    `Skipping 389-DS reader tests: ${ds389UnavailableReason() ?? 'not started, see the global setup warning'}`,
  );
}

const USERS = 130;
const PAGE = 25;
const READER_PASSWORD = 'Reader-389-Secret';
/** What the 389ds flavor reads: the README's reader ACI. */
const READER_ATTRIBUTES = [
  'objectClass',
  'uid',
  'cn',
  'mail',
  'givenName',
  'sn',
  'nsUniqueId',
  'nsAccountLock',
  'shadowExpire',
  'krbPrincipalExpiration',
  'memberOf',
  'member',
  'uniqueMember',
  'memberUid',
].join(' || ');
/** Days since 1970-01-01 UTC, as shadowExpire counts. */
const today = (): number => Math.floor(Date.now() / 86_400_000);
/** A GeneralizedTime `days` from now. */
const genTime = (days: number): string =>
  new Date(Date.now() + days * 86_400_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';

/** A FreeIPA-shaped tree: cn=users,cn=accounts and cn=groups,cn=accounts under its own root. */
function ldif(root: string): string {
  const accounts = `cn=accounts,${root}`;
  const users = `cn=users,${accounts}`;
  const groups = `cn=groups,${accounts}`;
  const userDn = (i: number): string => `uid=dsuser${i},${users}`;
  const container = (dn: string, cn: string): string =>
    [`dn: ${dn}`, 'objectClass: top', 'objectClass: nsContainer', `cn: ${cn}`].join('\n');
  const blocks = [
    [
      `dn: ${root}`,
      'objectClass: top',
      'objectClass: organizationalUnit',
      'ou: dirsync-reader',
    ].join('\n'),
    container(accounts, 'accounts'),
    container(users, 'users'),
    container(groups, 'groups'),
    // The reader: may read users and groups, status and id attributes included, with a size
    // limit below the number of users (per-user limits of 389-DS, paged searches too).
    [
      `dn: uid=limited,${root}`,
      'objectClass: top',
      'objectClass: account',
      'objectClass: simpleSecurityObject',
      'uid: limited',
      `userPassword: ${READER_PASSWORD}`,
      'nsSizeLimit: 40',
      'nsPagedSizeLimit: 40',
    ].join('\n'),
  ];
  for (let i = 0; i < USERS; i++) {
    const objectClasses = ['top', 'person', 'organizationalPerson', 'inetOrgPerson'];
    const lines = [
      `uid: dsuser${i}`,
      `cn: DS User ${i}`,
      `givenName: Given${i}`,
      `sn: Surname${i}`,
    ];
    if (i !== 7) lines.push(`mail: DsUser${i}@Example.COM`);
    if (i === 2) lines.push('nsAccountLock: TRUE');
    if (i === 3) lines.push('nsAccountLock: true');
    if (i === 4) lines.push('nsAccountLock: FALSE');
    if (i === 5 || i === 6) {
      objectClasses.push('krbPrincipalAux');
      lines.push(`krbPrincipalExpiration: ${genTime(i === 5 ? -1 : 30)}`);
    }
    if (i === 10 || i === 11) {
      objectClasses.push('shadowAccount');
      lines.push(`shadowExpire: ${i === 10 ? today() - 1 : today() + 30}`);
    }
    blocks.push(
      [`dn: ${userDn(i)}`, ...objectClasses.map((c) => `objectClass: ${c}`), ...lines].join('\n'),
    );
  }
  // A user as `dsidm user create` makes it: nsPerson, not inetOrgPerson.
  blocks.push(
    [
      `dn: uid=dsidm1,${users}`,
      'objectClass: top',
      'objectClass: nsPerson',
      'objectClass: nsAccount',
      'objectClass: nsOrgPerson',
      'objectClass: posixAccount',
      'uid: dsidm1',
      'cn: Dsidm One',
      'displayName: Dsidm One',
      'uidNumber: 5001',
      'gidNumber: 5001',
      'homeDirectory: /home/dsidm1',
      'mail: dsidm1@example.com',
    ].join('\n'),
  );
  const group = (cn: string, lines: string[], classes = ['groupOfNames']): string =>
    [
      `dn: cn=${cn},${groups}`,
      'objectClass: top',
      ...classes.map((c) => `objectClass: ${c}`),
      `cn: ${cn}`,
      ...lines,
    ].join('\n');
  // Members before the groups that hold them, so that the memberOf plugin sees every nesting.
  blocks.push(
    group(
      'big',
      Array.from({ length: USERS }, (_, i) => `member: ${userDn(i)}`),
    ),
    group('it-leads', [`member: ${userDn(1)}`]),
    group('owners', [`member: cn=it-leads,${groups}`]),
    group('helpdesk', [`uniqueMember: ${userDn(9)}`], ['groupOfUniqueNames']),
    group('admins', [`member: cn=helpdesk,${groups}`, `member: ${userDn(8)}`]),
    group('devs', ['gidNumber: 7001', 'memberUid: dsuser12'], ['groupOfNames', 'posixGroup']),
  );
  // Readers need an ACI: 389-DS denies what no ACI allows. This one names what dirsync reads
  // (nsUniqueId and nsAccountLock are operational) and leaves userPassword out.
  blocks.push(
    [
      `dn: ${root}`,
      'changetype: modify',
      'add: aci',
      `aci: (targetattr="${READER_ATTRIBUTES}")(version 3.0; acl "dirsync reader"; allow (read, search, compare) userdn="ldap:///uid=limited,${root}";)`,
    ].join('\n'),
  );
  return blocks.join('\n\n') + '\n';
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the read to fail');
}

describe.skipIf(ds === undefined)('LDAP reader against 389 Directory Server', () => {
  const server = ds!;
  const root = `ou=dirsync-reader,${server?.baseDn ?? ''}`;
  const users = `cn=users,cn=accounts,${root}`;
  const groups = `cn=groups,cn=accounts,${root}`;
  const g = (cn: string): string => normalizeDn(`cn=${cn},${groups}`);
  let snapshot: DirectorySnapshot;

  function source(
    connection: Ds389Connection,
    overrides: Record<string, unknown> = {},
    password = connection.bindPassword,
  ): LdapSource {
    return new LdapSource(
      LdapSourceConfig.parse({
        type: 'ldap',
        urls: [connection.url],
        bindDn: connection.bindDn,
        // Loopback test server without TLS.
        allowPlaintextBind: true,
        pageSize: PAGE,
        users: { baseDns: [users] },
        groups: { baseDns: [groups] },
        ...overrides,
      }),
      { bindPassword: password },
    );
  }
  const byUid = (s: DirectorySnapshot, uid: string): DirectoryUser | undefined =>
    s.users.find((u) => u.logins[0] === uid);

  beforeAll(async () => {
    await addDs389Ldif(server, ldif(root));
    snapshot = await source(server).read({ groupsOfInterest: [] });
  });

  it('detects 389-DS from the RootDSE and pages past the page size', () => {
    expect(snapshot.stats).toMatchObject({
      source: server.url,
      flavor: '389ds',
      usersPerBase: { [users]: USERS + 1 },
      groupsPerBase: { [groups]: 6 },
      usersWithoutEmail: 1,
    });
    expect(snapshot.users).toHaveLength(USERS);
  });

  it('maps nsUniqueId, mail, uid, givenName and sn; reads nsPerson users too', () => {
    const u1 = byUid(snapshot, 'dsuser1');
    expect(u1?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
    expect(u1).toMatchObject({
      dn: normalizeDn(`uid=dsuser1,${users}`),
      email: 'dsuser1@example.com',
      firstName: 'Given1',
      lastName: 'Surname1',
      logins: ['dsuser1'],
    });
    expect(byUid(snapshot, 'dsidm1')?.email).toBe('dsidm1@example.com');
    expect(new Set(snapshot.users.map((u) => u.id)).size).toBe(USERS);
  });

  it('reads nsAccountLock as disabled, krbPrincipalExpiration and shadowExpire as expired', () => {
    const flags = (i: number): [boolean, boolean] | undefined => {
      const u = byUid(snapshot, `dsuser${i}`);
      return u === undefined ? undefined : [u.disabled, u.expired];
    };
    expect([0, 2, 3, 4, 5, 6, 10, 11].map(flags)).toEqual([
      [false, false],
      [true, false],
      [true, false],
      [false, false],
      [false, true],
      [false, false],
      [false, true],
      [false, false],
    ]);
  });

  it('resolves groupOfNames, groupOfUniqueNames, posixGroup and nested groups', async () => {
    const read = await source(server).read({
      groupsOfInterest: [`cn=owners,${groups}`, `cn=admins,${groups}`, `cn=devs,${groups}`],
    });
    expect(byUid(read, 'dsuser1')?.groups).toEqual([g('owners')]);
    expect(byUid(read, 'dsuser9')?.groups).toEqual([g('admins')]);
    expect(byUid(read, 'dsuser8')?.groups).toEqual([g('admins')]);
    expect(byUid(read, 'dsuser12')?.groups).toEqual([g('devs')]);
    expect(byUid(read, 'dsuser0')?.groups).toEqual([]);
  });

  it("uses the memberOf plugin's memberOf: nesting resolves without the member lists", async () => {
    const read = await source(server, {
      attributes: { members: ['noSuchAttribute'], memberUid: 'noSuchAttribute' },
    }).read({ groupsOfInterest: [`cn=owners,${groups}`, `cn=big,${groups}`] });
    expect(byUid(read, 'dsuser1')?.groups).toEqual([g('big'), g('owners')]);
    // Every user but dsuser7, who has no mail.
    expect(read.users.filter((u) => u.groups.includes(g('big')))).toHaveLength(USERS - 1);
  });

  it('keeps nsUniqueId as the id across a rename and a move', async () => {
    const before = byUid(snapshot, 'dsuser20');
    await addDs389Ldif(
      server,
      [
        `dn: uid=dsuser20,${users}`,
        'changetype: modrdn',
        'newrdn: uid=dsuser20-renamed',
        'deleteoldrdn: 1',
        `newsuperior: cn=accounts,${root}`,
        '',
      ].join('\n'),
    );
    const after = await source(server, { users: { baseDns: [users, `cn=accounts,${root}`] } }).read(
      { groupsOfInterest: [] },
    );
    const moved = after.users.find((u) => u.id === before?.id);
    expect(moved).toMatchObject({
      dn: normalizeDn(`uid=dsuser20-renamed,cn=accounts,${root}`),
      email: 'dsuser20@example.com',
      logins: ['dsuser20-renamed'],
    });
  });

  it('reads as a reader whose ACI names the attributes dirsync reads, operational ones included', async () => {
    const reader = { ...server, bindDn: `uid=limited,${root}` };
    const request = { groupsOfInterest: [`cn=owners,${groups}`, `cn=admins,${groups}`] };
    const [asReader, asAdmin] = await Promise.all([
      source(reader, {}, READER_PASSWORD).read(request),
      source(server).read(request),
    ]);
    const view = (s: DirectorySnapshot) =>
      s.users.map((u) => [u.id, u.email, u.logins, u.disabled, u.expired, u.groups]);
    expect(view(asReader)).toEqual(view(asAdmin));
    expect(asReader.users.filter((u) => u.disabled)).toHaveLength(2);
    expect(asReader.users.filter((u) => u.groups.length > 0)).toHaveLength(3);
  });

  it("ends with a DirectoryError when the reader's size limit cuts the read short", async () => {
    const reader = { ...server, bindDn: `uid=limited,${root}` };
    // 389-DS applies the limit to each page of a paged search: a page above it hits it.
    const error = await failure(
      source(reader, { pageSize: 100 }, READER_PASSWORD).read({ groupsOfInterest: [] }),
    );
    expect(error).toBeInstanceOf(DirectoryError);
    expect(error.message).toContain(
      `search of ${users} on ${server.url} hit the server's size limit`,
    );
  });

  it('refuses a users or groups base DN that does not exist, though 389-DS answers its paged search with success', async () => {
    const typo = `cn=user,cn=accounts,${root}`;
    const reads = [
      source(server, { users: { baseDns: [typo] } }),
      source(server, { users: { baseDns: [users, typo] } }),
      source(server, { groups: { baseDns: [groups, typo] } }),
    ].map((s) => failure(s.read({ groupsOfInterest: [] })));
    for (const error of await Promise.all(reads)) {
      expect(error).toBeInstanceOf(DirectoryError);
      expect(error.message).toContain(
        `search of ${typo} on ${server.url}: the base DN does not exist or the bind account cannot read it`,
      );
    }
  });

  it('refuses a group named in the rules that does not exist', async () => {
    const error = await failure(source(server).read({ groupsOfInterest: [`cn=nope,${groups}`] }));
    expect(error).toBeInstanceOf(DirectoryError);
    expect(error.message).toContain(`cn=nope,${groups}`);
  });

  it('refuses a wrong bind password, naming the bind DN', async () => {
    const error = await failure(source(server, {}, 'wrong').read({ groupsOfInterest: [] }));
    expect(error).toBeInstanceOf(DirectoryError);
    expect(error.message).toContain(`bind as ${server.bindDn}`);
  });
});
