import { beforeAll, describe, expect, inject, it } from 'vitest';
import { LdapSourceConfig } from '../../../src/config/source.js';
import { normalizeDn } from '../../../src/directory/dn.js';
import { LdapSource } from '../../../src/directory/ldap/source.js';
import { DirectoryError, describeError } from '../../../src/errors.js';
import { addSambaLdif, sambaUnavailableReason, type SambaConnection } from '../../support/samba.js';
import { sambaOrSkip } from '../../support/samba-setup.js';

const samba = sambaOrSkip(inject('samba'));
if (samba === undefined) {
  console.warn(
    `Skipping Samba AD reader tests: ${sambaUnavailableReason() ?? 'not started, see the global setup warning'}`,
  );
}

const USERS = 120;
const BIG = 250;
/** FILETIME (100 ns since 1601) of a date. */
const fileTime = (d: Date): string => String(BigInt(d.getTime()) * 10000n + 116444736000000000n);

function ldif(dc: SambaConnection, ou: string): string {
  const userDn = (i: number): string => `CN=AD User ${i},${ou}`;
  const blocks: string[] = [`dn: ${ou}\nobjectClass: organizationalUnit\nou: dirsync-reader`];
  for (let i = 0; i < USERS; i++) {
    const lines = [
      `dn: ${userDn(i)}`,
      'objectClass: user',
      `sAMAccountName: aduser${i}`,
      `userPrincipalName: aduser${i}@${dc.realm.toLowerCase()}`,
      `givenName: Given${i}`,
      `sn: Surname${i}`,
      `userAccountControl: ${i === 2 ? 514 : 512}`,
    ];
    if (i !== 7) lines.push(`mail: AdUser${i}@Corp.Example.com`);
    if (i === 3) lines.push(`accountExpires: ${fileTime(new Date(Date.now() - 86_400_000))}`);
    if (i === 4) lines.push('accountExpires: 0');
    if (i === 5) lines.push('accountExpires: 9223372036854775807');
    if (i === 6) lines.push(`accountExpires: ${fileTime(new Date(Date.now() + 30 * 86_400_000))}`);
    if (i === 1)
      lines.push(
        'proxyAddresses: SMTP:aduser1@corp.example.com',
        'proxyAddresses: smtp:alias1@corp.example.com',
        'proxyAddresses: X500:/o=x/cn=1',
      );
    if (i === 7) lines.push('proxyAddresses: SMTP:primary7@corp.example.com');
    blocks.push(lines.join('\n'));
  }
  const group = (cn: string, members: string[]): string =>
    [
      `dn: CN=${cn},${ou}`,
      'objectClass: group',
      `sAMAccountName: rdr-${cn.toLowerCase()}`,
      ...members.map((m) => `member: ${m}`),
    ].join('\n');
  blocks.push(
    group('Big', Array.from({ length: BIG }, (_, i) => userDn(i % USERS)).slice(0, USERS)),
  );
  blocks.push(group('IT-Leads', [userDn(1)]));
  blocks.push(group('Owners', [`CN=IT-Leads,${ou}`]));
  blocks.push(group('Helpdesk', [userDn(9)]));
  blocks.push(group('Admins', [`CN=Helpdesk,${ou}`, userDn(8)]));
  return blocks.join('\n\n') + '\n';
}

describe.skipIf(samba === undefined)('LDAP reader against a Samba AD DC', () => {
  const dc = samba!;
  const ou = `OU=dirsync-reader,${dc?.baseDn ?? ''}`;
  const g = (cn: string): string => normalizeDn(`CN=${cn},${ou}`);

  function source(overrides: Record<string, unknown> = {}): LdapSource {
    return new LdapSource(
      LdapSourceConfig.parse({
        type: 'ldap',
        urls: [dc.url],
        bindDn: dc.bindDn,
        tls: { caFile: dc.caFile },
        pageSize: 50,
        users: { baseDns: [ou] },
        groups: { baseDns: [ou] },
        ...overrides,
      }),
      { bindPassword: dc.bindPassword },
    );
  }

  beforeAll(async () => {
    await addSambaLdif(dc, ldif(dc, ou));
  });

  it('detects AD from the RootDSE and pages past the page size', async () => {
    const snapshot = await source().read({ groupsOfInterest: [] });
    expect(snapshot.stats.flavor).toBe('ad');
    expect(snapshot.stats.usersPerBase).toEqual({ [ou]: USERS });
    expect(snapshot.users).toHaveLength(USERS);
  });

  it('maps objectGUID, mail, proxyAddresses, userPrincipalName and sAMAccountName', async () => {
    const snapshot = await source().read({ groupsOfInterest: [] });
    const u1 = snapshot.users.find((u) => u.email === 'aduser1@corp.example.com');
    expect(u1?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(u1).toMatchObject({
      aliases: ['alias1@corp.example.com', `aduser1@${dc.realm.toLowerCase()}`],
      logins: ['aduser1'],
      firstName: 'Given1',
      lastName: 'Surname1',
    });
    expect(snapshot.users.find((u) => u.logins[0] === 'aduser7')?.email).toBe(
      'primary7@corp.example.com',
    );
  });

  it('reads the disabled bit and accountExpires (past, 0, never, future)', async () => {
    const snapshot = await source().read({ groupsOfInterest: [] });
    const flags = (i: number): [boolean, boolean] | undefined => {
      const u = snapshot.users.find((x) => x.logins[0] === `aduser${i}`);
      return u === undefined ? undefined : [u.disabled, u.expired];
    };
    expect([flags(0), flags(2), flags(3), flags(4), flags(5), flags(6)]).toEqual([
      [false, false],
      [true, false],
      [false, true],
      [false, false],
      [false, false],
      [false, false],
    ]);
  });

  it('resolves nested groups with the in-chain matching rule', async () => {
    const snapshot = await source().read({
      groupsOfInterest: [`CN=Owners,${ou}`, `CN=Admins,${ou}`],
    });
    const groupsOf = (i: number): readonly string[] | undefined =>
      snapshot.users.find((u) => u.logins[0] === `aduser${i}`)?.groups;
    expect(snapshot.stats.groupsPerBase).toEqual({ '(in-chain)': 2 });
    expect(groupsOf(1)).toEqual([g('Owners')]);
    expect(groupsOf(9)).toEqual([g('Admins')]);
    expect(groupsOf(8)).toEqual([g('Admins')]);
    expect(groupsOf(0)).toEqual([]);
  });

  it('follows member;range= to the end when reading groups client-side', async () => {
    // AD keeps memberOf on users, which would fill in what the ranges miss: read member lists only.
    const snapshot = await source({
      groups: { baseDns: [ou], nested: 'client', rangeSize: 25 },
      attributes: { memberOf: 'noSuchAttribute' },
    }).read({
      groupsOfInterest: [`CN=Big,${ou}`, `CN=Owners,${ou}`],
    });
    expect(snapshot.users.filter((u) => u.groups.includes(g('Big')))).toHaveLength(USERS);
    expect(snapshot.users.find((u) => u.logins[0] === 'aduser1')?.groups).toEqual([
      g('Big'),
      g('Owners'),
    ]);
  });

  it('skips the continuation references of a search from the domain root, not mistaking them for a failure', async () => {
    const snapshot = await source({
      users: {
        baseDns: [dc.baseDn],
        filter: '(&(objectCategory=person)(objectClass=user)(sAMAccountName=aduser*))',
      },
    }).read({
      groupsOfInterest: [],
    });
    expect(snapshot.users).toHaveLength(USERS);
    expect(snapshot.stats.referencesSkipped).toBeGreaterThan(0);
  });

  it('fails TLS verification against an unrelated CA and says to set tls.caFile', async () => {
    const error = await source({ tls: { caFile: dc.unrelatedCaFile } })
      .read({ groupsOfInterest: [] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirectoryError);
    expect(describeError(error)).toContain(dc.url);
    expect((error as DirectoryError).hint).toContain('tls.caFile');
  });

  it('refuses a group named in the rules that does not exist', async () => {
    const error = await source()
      .read({ groupsOfInterest: [`CN=Nope,${ou}`] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as Error).message).toContain(`CN=Nope,${ou}, named in the rules, cannot be read`);
  });
});
