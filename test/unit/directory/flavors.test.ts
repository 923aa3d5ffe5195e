import { describe, expect, it } from 'vitest';
import { LdapSourceConfig } from '../../../src/config/source.js';
import {
  ds389,
  FLAVORS,
  generalizedTimeToDate,
  openLdap,
  shadowExpired,
} from '../../../src/directory/flavors.js';
import { detectFlavor, userAttributes } from '../../../src/directory/ldap/source.js';
import type { RawEntry } from '../../../src/directory/model.js';

function anEntry(
  attrs: Record<string, string[]>,
  dn = 'uid=ann,ou=People,dc=example,dc=com',
): RawEntry {
  return { dn, attributes: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), v])) };
}

/** Days since 1970-01-01 UTC of a date. */
const dayOf = (d: Date): number => Math.floor(d.getTime() / 86_400_000);
const NOW = new Date('2026-11-30T12:00:00Z');

describe('flavor detection from the RootDSE', () => {
  it('detects 389-DS by its vendorName (389-DS 2.x, FreeIPA)', () => {
    const rootDse = anEntry(
      {
        vendorName: ['389 Project'],
        vendorVersion: ['389-Directory/2.3.1 B2025.016.1616'],
        namingContexts: ['dc=example,dc=com'],
        supportedControl: ['1.2.840.113556.1.4.319'],
      },
      '',
    );
    expect(detectFlavor(rootDse)).toBe('389ds');
  });

  it('detects Red Hat Directory Server, also from vendorVersion alone', () => {
    expect(detectFlavor(anEntry({ vendorName: ['Red Hat, Inc.'] }, ''))).toBe('389ds');
    expect(
      detectFlavor(anEntry({ vendorVersion: ['Red Hat-Directory/11.7 B2023.123.0000'] }, '')),
    ).toBe('389ds');
    expect(detectFlavor(anEntry({ vendorVersion: ['Fedora-Directory/1.2.11'] }, ''))).toBe('389ds');
  });

  it('keeps AD for the AD capability and OpenLDAP for everything else', () => {
    expect(
      detectFlavor(
        anEntry({ supportedCapabilities: ['1.2.840.113556.1.4.800'], vendorName: ['x'] }, ''),
      ),
    ).toBe('ad');
    // slapd publishes no vendorName; other servers name other vendors.
    expect(detectFlavor(anEntry({ supportedControl: ['1.2.840.113556.1.4.319'] }, ''))).toBe(
      'openldap',
    );
    expect(detectFlavor(anEntry({ vendorName: ['Sun Microsystems, Inc.'] }, ''))).toBe('openldap');
    expect(detectFlavor(undefined)).toBe('openldap');
  });

  it('accepts flavor: 389ds in the config', () => {
    const config = LdapSourceConfig.parse({
      type: 'ldap',
      flavor: '389ds',
      urls: ['ldaps://ds.example.com'],
      users: { baseDns: ['cn=users,cn=accounts,dc=example,dc=com'] },
    });
    expect(FLAVORS[config.flavor!]).toBe(ds389);
  });
});

describe('the 389ds flavor', () => {
  it('reads nsUniqueId as the id and asks for the operational status attributes by name', () => {
    const entry = anEntry({ nsUniqueId: ['3a24c80a-ec9411f1-9227a5e7-3128c3d7'] });
    expect(ds389.decodeId(entry, ds389.attributes.id)).toBe('3a24c80a-ec9411f1-9227a5e7-3128c3d7');
    expect(userAttributes(ds389)).toEqual(
      expect.arrayContaining(['nsUniqueId', 'memberOf', 'uid', 'mail', 'nsAccountLock']),
    );
  });

  it('is disabled by nsAccountLock true in any case, not by false or its absence', () => {
    const disabled = (v?: string): boolean =>
      ds389.disabled(anEntry(v === undefined ? {} : { nsAccountLock: [v] }));
    expect([
      disabled('TRUE'),
      disabled('true'),
      disabled(' True '),
      disabled('FALSE'),
      disabled(),
    ]).toEqual([true, true, true, false, false]);
  });

  it('is expired by a krbPrincipalExpiration (FreeIPA) or a shadowExpire in the past', () => {
    const expired = (attrs: Record<string, string[]>): boolean =>
      ds389.expired(anEntry(attrs), NOW);
    expect([
      expired({ krbPrincipalExpiration: ['20261130115959Z'] }),
      expired({ krbPrincipalExpiration: ['20261130120001Z'] }),
      expired({ krbPrincipalExpiration: ['not a time'] }),
      expired({ shadowExpire: [String(dayOf(NOW))] }),
      expired({}),
    ]).toEqual([true, false, false, true, false]);
  });
});

describe('shadowExpire (OpenLDAP and 389-DS)', () => {
  const expired = (value: string): boolean =>
    shadowExpired(anEntry({ shadowExpire: [value] }), NOW);

  it('is expired from the day it names on (UTC days since 1970), as shadow-utils reads it', () => {
    const today = dayOf(NOW);
    expect([
      expired(String(today - 1)),
      expired(String(today)),
      expired(String(today + 1)),
    ]).toEqual([true, true, false]);
  });

  it('reads 0, -1 and garbage as never', () => {
    expect([expired('0'), expired('-1'), expired(''), expired('soon')]).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it('makes OpenLDAP users expired, next to the ppolicy admin lock for disabled', () => {
    const entry = anEntry({ shadowExpire: ['1'], pwdAccountLockedTime: ['000001010000Z'] });
    expect([openLdap.expired(entry, NOW), openLdap.disabled(entry)]).toEqual([true, true]);
    expect(userAttributes(openLdap)).toEqual(
      expect.arrayContaining(['pwdAccountLockedTime', 'shadowExpire']),
    );
  });
});

describe('generalizedTimeToDate', () => {
  it('reads Z, offsets, fractions and a missing seconds part', () => {
    expect(generalizedTimeToDate('20261231235959Z')?.toISOString()).toBe(
      '2026-12-31T23:59:59.000Z',
    );
    expect(generalizedTimeToDate('20261231235959.5Z')?.toISOString()).toBe(
      '2026-12-31T23:59:59.000Z',
    );
    expect(generalizedTimeToDate('202612312359+0130')?.toISOString()).toBe(
      '2026-12-31T22:29:00.000Z',
    );
    expect(generalizedTimeToDate('20261331000000Z')).toBeUndefined();
    expect(generalizedTimeToDate('yesterday')).toBeUndefined();
  });
});
