import { readFileSync } from 'node:fs';
import { Client, SizeLimitExceededError, StrongAuthRequiredError, type Entry } from 'ldapts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addSambaLdif, sambaUnavailableReason } from '../../support/samba.js';
import { sambaOrSkip } from '../../support/samba-setup.js';
import {
  slapdAvailable,
  slapdUnavailableReason,
  startSlapd,
  type SlapdServer,
} from '../../support/slapd.js';

// Smoke tests of the test harness itself (test/support/*), with ldapts used directly.

const isCi = process.env.CI === 'true';
// In CI a missing slapd must fail, not skip: startSlapd then throws and says what to install.
const skipSlapd = !slapdAvailable() && !isCi;
if (skipSlapd) console.warn(`Skipping slapd harness tests: ${slapdUnavailableReason() ?? ''}`);
const samba = sambaOrSkip(inject('samba'));
if (samba === undefined) {
  console.warn(
    `Skipping Samba harness tests: ${sambaUnavailableReason() ?? 'not started, see the global setup warning'}`,
  );
}

function ldifOf(entries: Record<string, string | string[]>[]): string {
  return entries
    .map((entry) =>
      Object.entries(entry)
        .flatMap(([name, value]) =>
          (Array.isArray(value) ? value : [value]).map((item) => `${name}: ${item}`),
        )
        .join('\n'),
    )
    .join('\n\n');
}

function anOpenLdapUser(suffix: string, n: number, extra: Record<string, string> = {}) {
  return {
    dn: `uid=user${n},ou=people,${suffix}`,
    objectClass: 'inetOrgPerson',
    uid: `user${n}`,
    cn: `User ${n}`,
    sn: `${n}`,
    mail: `user${n}@example.com`,
    ...extra,
  };
}

function openLdapPeople(suffix: string, count: number): Record<string, string | string[]>[] {
  return [
    { dn: `ou=people,${suffix}`, objectClass: 'organizationalUnit', ou: 'people' },
    ...Array.from({ length: count }, (_, i) => anOpenLdapUser(suffix, i + 1)),
  ];
}

function values(entry: Entry | undefined, attribute: string): string[] {
  const value = entry?.[attribute];
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => (typeof item === 'string' ? item : item.toString('utf8')));
}

async function withClient<T>(
  url: string,
  caFile: string,
  use: (client: Client) => Promise<T>,
): Promise<T> {
  // ldapts speaks TLS from the first byte whenever tlsOptions is set, even for ldap:// URLs.
  const client = new Client({
    url,
    ...(url.startsWith('ldaps:') ? { tlsOptions: { ca: [readFileSync(caFile)] } } : {}),
    connectTimeout: 5000,
    timeout: 10_000,
  });
  try {
    return await use(client);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

describe.skipIf(skipSlapd)('startSlapd', () => {
  const suffix = 'dc=example,dc=com';

  describe('plain, with a size limit for the reader', () => {
    let slapd: SlapdServer;
    beforeAll(async () => {
      const started = Date.now();
      slapd = await startSlapd({ ldif: ldifOf(openLdapPeople(suffix, 300)), sizeLimit: 50 });
      console.info(`slapd (300 users, slapadd) ready in ${Date.now() - started} ms`);
    });
    afterAll(() => slapd?.stop());

    it('returns all 300 users through a paged search of pageSize 100', async () => {
      const result = await withClient(slapd.url, slapd.caFile, async (client) => {
        await client.bind(slapd.bindDn, slapd.bindPassword);
        return client.search(slapd.baseDn, {
          filter: '(objectClass=inetOrgPerson)',
          attributes: ['uid', 'entryUUID', 'memberOf'],
          paged: { pageSize: 100 },
        });
      });

      expect(result.searchEntries).toHaveLength(300);
      expect(new Set(result.searchEntries.map((entry) => values(entry, 'uid')[0])).size).toBe(300);
      expect(values(result.searchEntries[0], 'entryUUID')).toHaveLength(1);
      expect(result.searchEntries.flatMap((entry) => values(entry, 'memberOf'))).toEqual([]);
    });

    it.each(['ldaps', 'StartTLS'] as const)(
      'binds over %s when verifying against the caFile',
      async (mode) => {
        const url = mode === 'ldaps' ? slapd.ldapsUrl : slapd.url;
        await withClient(url, slapd.caFile, async (client) => {
          if (mode === 'StartTLS') await client.startTLS({ ca: [readFileSync(slapd.caFile)] });
          await client.bind(slapd.bindDn, slapd.bindPassword);
        });
      },
    );

    it.each(['ldaps', 'StartTLS'] as const)(
      'fails %s when verifying against an unrelated CA',
      async (mode) => {
        const url = mode === 'ldaps' ? slapd.ldapsUrl : slapd.url;
        await withClient(url, slapd.unrelatedCaFile, async (client) => {
          const connect = async (): Promise<void> => {
            if (mode === 'StartTLS') {
              await client.startTLS({ ca: [readFileSync(slapd.unrelatedCaFile)] });
            }
            await client.bind(slapd.bindDn, slapd.bindPassword);
          };
          await expect(connect()).rejects.toThrow(/certificate|issuer/i);
        });
      },
    );

    it.each([
      ['paged', { paged: { pageSize: 20 } }],
      ['unpaged', {}],
    ] as const)('refuses the reader a %s search over the size limit', async (_name, paging) => {
      await withClient(slapd.url, slapd.caFile, async (client) => {
        await client.bind(slapd.readerDn, slapd.readerPassword);
        await expect(
          client.search(slapd.baseDn, { filter: '(uid=*)', attributes: ['uid'], ...paging }),
        ).rejects.toBeInstanceOf(SizeLimitExceededError);
      });
    });

    it('lets the reader read below the size limit', async () => {
      const result = await withClient(slapd.url, slapd.caFile, async (client) => {
        await client.bind(slapd.readerDn, slapd.readerPassword);
        // user4 and user40..user49
        return client.search(slapd.baseDn, { filter: '(uid=user4*)', attributes: ['uid'] });
      });

      expect(result.searchEntries).toHaveLength(11);
    });
  });

  describe('with the memberOf overlay', () => {
    let slapd: SlapdServer;
    beforeAll(async () => {
      const group = (cn: string, members: string[]) => ({
        dn: `cn=${cn},ou=groups,${suffix}`,
        objectClass: 'groupOfNames',
        cn,
        member: members,
      });
      const ldif = ldifOf([
        {
          dn: suffix,
          objectClass: ['dcObject', 'organization'],
          dc: 'example',
          o: 'Example',
        },
        ...openLdapPeople(suffix, 3),
        { dn: `ou=groups,${suffix}`, objectClass: 'organizationalUnit', ou: 'groups' },
        // "outer" lists "inner" before inner exists, and the two form a cycle.
        group('outer', [`cn=inner,ou=groups,${suffix}`, `uid=user1,ou=people,${suffix}`]),
        group('inner', [`uid=user2,ou=people,${suffix}`, `cn=outer,ou=groups,${suffix}`]),
      ]);
      const started = Date.now();
      slapd = await startSlapd({ ldif, memberOf: true });
      console.info(`slapd (memberOf overlay) ready in ${Date.now() - started} ms`);
    });
    afterAll(() => slapd?.stop());

    it.each([
      ['uid=user1,ou=people', ['cn=outer,ou=groups']],
      ['uid=user2,ou=people', ['cn=inner,ou=groups']],
      ['cn=inner,ou=groups', ['cn=outer,ou=groups']],
      ['cn=outer,ou=groups', ['cn=inner,ou=groups']],
      ['uid=user3,ou=people', []],
    ])('maintains memberOf of %s', async (rdn, groups) => {
      const result = await withClient(slapd.url, slapd.caFile, async (client) => {
        await client.bind(slapd.bindDn, slapd.bindPassword);
        return client.search(`${rdn},${suffix}`, { scope: 'base', attributes: ['memberOf'] });
      });

      expect(values(result.searchEntries[0], 'memberOf')).toEqual(
        groups.map((group) => `${group},${suffix}`),
      );
    });
  });

  describe('with the ppolicy overlay', () => {
    let slapd: SlapdServer;
    beforeAll(async () => {
      const ldif = ldifOf([
        { dn: `ou=people,${suffix}`, objectClass: 'organizationalUnit', ou: 'people' },
        anOpenLdapUser(suffix, 1, { pwdAccountLockedTime: '20240101000000Z' }),
        anOpenLdapUser(suffix, 2),
      ]);
      slapd = await startSlapd({ ldif, ppolicy: true });
    });
    afterAll(() => slapd?.stop());

    it('loads and returns pwdAccountLockedTime', async () => {
      const result = await withClient(slapd.ldapsUrl, slapd.caFile, async (client) => {
        await client.bind(slapd.readerDn, slapd.readerPassword);
        return client.search(slapd.baseDn, {
          filter: '(pwdAccountLockedTime=*)',
          attributes: ['uid', 'pwdAccountLockedTime'],
        });
      });

      expect(result.searchEntries).toHaveLength(1);
      expect(values(result.searchEntries[0], 'uid')).toEqual(['user1']);
      expect(values(result.searchEntries[0], 'pwdAccountLockedTime')).toEqual(['20240101000000Z']);
    });
  });

  it('stop() kills slapd and removes its directory', async () => {
    const slapd = await startSlapd();
    await slapd.stop();

    const client = new Client({ url: slapd.url, connectTimeout: 2000 });
    await expect(client.bind(slapd.bindDn, slapd.bindPassword)).rejects.toThrow();
    expect(() => readFileSync(slapd.caFile)).toThrow();
  });
});

describe.skipIf(samba === undefined)('Samba AD DC from the global setup', () => {
  // Narrowed by skipIf; the fallback only satisfies the type checker.
  const dc = samba ?? {
    url: '',
    ldapUrl: '',
    baseDn: '',
    bindDn: '',
    bindPassword: '',
    realm: '',
    domain: '',
    caFile: '',
    unrelatedCaFile: '',
    dir: '',
  };
  const ou = `OU=harness-smoke,${dc.baseDn}`;
  const userDn = (n: number): string => `CN=Smoke User ${n},${ou}`;

  beforeAll(async () => {
    const users = Array.from({ length: 25 }, (_, i) => ({
      dn: userDn(i + 1),
      objectClass: 'user',
      sAMAccountName: `smoke${i + 1}`,
      userPrincipalName: `smoke${i + 1}@${dc.realm.toLowerCase()}`,
      mail: `Smoke${i + 1}@Example.com`,
      proxyAddresses: [`SMTP:smoke${i + 1}@example.com`, `smtp:s${i + 1}@example.com`],
      userAccountControl: i === 0 ? '514' : '512',
      accountExpires: i === 1 ? '9223372036854775807' : '0',
    }));
    await addSambaLdif(
      dc,
      ldifOf([
        { dn: ou, objectClass: 'organizationalUnit', ou: 'harness-smoke' },
        ...users,
        {
          dn: `CN=Smoke Big,${ou}`,
          objectClass: 'group',
          sAMAccountName: 'smoke-big',
          member: users.map((user) => user.dn),
        },
        {
          dn: `CN=Smoke Outer,${ou}`,
          objectClass: 'group',
          sAMAccountName: 'smoke-outer',
          member: [`CN=Smoke Big,${ou}`],
        },
      ]),
    );
  });

  it('binds over LDAPS as Administrator and finds the added users', async () => {
    const result = await withClient(dc.url, dc.caFile, async (client) => {
      await client.bind(dc.bindDn, dc.bindPassword);
      return client.search(ou, {
        filter: '(&(objectClass=user)(sAMAccountName=smoke1))',
        attributes: ['sAMAccountName', 'userAccountControl', 'proxyAddresses', 'objectGUID'],
        explicitBufferAttributes: ['objectGUID'],
      });
    });

    expect(result.searchEntries).toHaveLength(1);
    const [entry] = result.searchEntries;
    expect(values(entry, 'userAccountControl')).toEqual(['514']);
    expect(values(entry, 'proxyAddresses').sort()).toEqual([
      'SMTP:smoke1@example.com',
      'smtp:s1@example.com',
    ]);
    expect(entry?.objectGUID).toBeInstanceOf(Buffer);
  });

  it('returns a ranged member attribute when a range is asked for', async () => {
    const result = await withClient(dc.url, dc.caFile, async (client) => {
      await client.bind(dc.bindDn, dc.bindPassword);
      return client.search(`CN=Smoke Big,${ou}`, {
        scope: 'base',
        attributes: ['member;range=0-9'],
      });
    });

    expect(values(result.searchEntries[0], 'member;range=0-9')).toHaveLength(10);
  });

  it('resolves nested groups with the in-chain matching rule', async () => {
    const result = await withClient(dc.url, dc.caFile, async (client) => {
      await client.bind(dc.bindDn, dc.bindPassword);
      return client.search(ou, {
        filter: `(memberOf:1.2.840.113556.1.4.1941:=CN=Smoke Outer,${ou})`,
        attributes: ['sAMAccountName'],
        paged: { pageSize: 10 },
      });
    });

    // 25 users through "Smoke Big", plus "Smoke Big" itself.
    expect(result.searchEntries).toHaveLength(26);
  });

  it('yields search references from a subtree search of the domain root', async () => {
    const result = await withClient(dc.url, dc.caFile, async (client) => {
      await client.bind(dc.bindDn, dc.bindPassword);
      return client.search(dc.baseDn, {
        filter: '(sAMAccountName=smoke2)',
        attributes: ['accountExpires'],
      });
    });

    expect(values(result.searchEntries[0], 'accountExpires')).toEqual(['9223372036854775807']);
    expect(result.searchReferences.length).toBeGreaterThan(0);
  });

  it('accepts StartTLS on 389 and refuses a simple bind without TLS', async () => {
    await withClient(dc.ldapUrl, dc.caFile, async (client) => {
      await client.startTLS({ ca: [readFileSync(dc.caFile)] });
      await client.bind(dc.bindDn, dc.bindPassword);
    });
    await withClient(dc.ldapUrl, dc.caFile, async (client) => {
      await expect(client.bind(dc.bindDn, dc.bindPassword)).rejects.toBeInstanceOf(
        StrongAuthRequiredError,
      );
    });
  });

  it('fails LDAPS verification against an unrelated CA', async () => {
    await withClient(dc.url, dc.unrelatedCaFile, async (client) => {
      await expect(client.bind(dc.bindDn, dc.bindPassword)).rejects.toThrow(/certificate|issuer/i);
    });
  });
});
