import { firstValue, values, type RawEntry } from './model.js';

/** Which attribute holds what. `attributes` in the config override these key by key. */
export interface AttributeMap {
  /** Stable id attribute (objectGUID, entryUUID). */
  id: string;
  email: string;
  /** Alias addresses: `smtp:` entries of proxyAddresses, or plain addresses. */
  aliases: string[];
  firstName: string;
  lastName: string;
  logins: string[];
  /** Smart card numbers; none unless configured. */
  smartcards: string | undefined;
  memberOf: string;
  /** Group attributes holding member DNs. */
  members: string[];
  /** Group attribute holding member login names (posixGroup). */
  memberUid: string;
  groupName: string;
}

export type FlavorName = 'ad' | 'openldap' | '389ds';
export type NestedStrategy = 'inChain' | 'client';

/** Everything that differs between Active Directory, OpenLDAP and 389-DS, in one object each. */
export interface Flavor {
  name: FlavorName;
  attributes: AttributeMap;
  userFilter: string;
  groupFilter: string;
  /** Attributes that must be read as bytes. */
  binaryAttributes: string[];
  /** Attributes the flavor's status checks need. */
  statusAttributes: string[];
  nested: NestedStrategy;
  /** The display form of the stable id. */
  decodeId(entry: RawEntry, attribute: string): string | undefined;
  disabled(entry: RawEntry): boolean;
  expired(entry: RawEntry, now: Date): boolean;
}

/** The GUID string of AD's objectGUID bytes: the first three groups are little-endian. */
export function guidToString(bytes: Buffer): string {
  if (bytes.length !== 16) return bytes.toString('hex');
  const hex = (start: number, end: number, reverse: boolean): string => {
    const slice = [...bytes.subarray(start, end)];
    if (reverse) slice.reverse();
    return slice.map((b) => b.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

const ACCOUNTDISABLE = 0x2;
/** accountExpires values that mean "never". */
const NEVER = new Set(['0', '9223372036854775807']);
/** 100-ns intervals between 1601-01-01 (FILETIME epoch) and 1970-01-01. */
const FILETIME_UNIX_OFFSET = 116444736000000000n;

export function fileTimeToDate(value: string): Date | undefined {
  if (!/^\d+$/.test(value) || NEVER.has(value)) return undefined;
  const ms = (BigInt(value) - FILETIME_UNIX_OFFSET) / 10000n;
  return new Date(Number(ms));
}

export const activeDirectory: Flavor = {
  name: 'ad',
  attributes: {
    id: 'objectGUID',
    email: 'mail',
    aliases: ['proxyAddresses', 'userPrincipalName'],
    firstName: 'givenName',
    lastName: 'sn',
    logins: ['sAMAccountName'],
    smartcards: undefined,
    memberOf: 'memberOf',
    members: ['member'],
    memberUid: 'memberUid',
    groupName: 'cn',
  },
  userFilter: '(&(objectCategory=person)(objectClass=user))',
  groupFilter: '(objectClass=group)',
  binaryAttributes: ['objectGUID'],
  statusAttributes: ['userAccountControl', 'accountExpires'],
  nested: 'inChain',
  decodeId(entry, attribute) {
    const raw = entry.attributes.get(attribute.toLowerCase())?.[0];
    if (raw === undefined) return undefined;
    return typeof raw === 'string' ? raw : guidToString(raw);
  },
  disabled(entry) {
    const uac = Number(firstValue(entry, 'userAccountControl') ?? '0');
    return Number.isInteger(uac) && (uac & ACCOUNTDISABLE) !== 0;
  },
  expired(entry, now) {
    const value = firstValue(entry, 'accountExpires');
    const at = value === undefined ? undefined : fileTimeToDate(value.trim());
    return at !== undefined && at.getTime() <= now.getTime();
  },
};

const MS_PER_DAY = 86_400_000;

/**
 * RFC 2307 shadowExpire: the day (days since 1970-01-01 UTC) from which the account is expired,
 * as shadow-utils reads it: expired once today (UTC) has reached that day. 0, -1, empty and
 * anything not an integer mean "never" (shadow(5): 0 "should not be used", -1 is "never").
 */
export function shadowExpired(entry: RawEntry, now: Date): boolean {
  const value = firstValue(entry, 'shadowExpire')?.trim();
  if (value === undefined || !/^-?\d+$/.test(value)) return false;
  const day = Number(value);
  return day > 0 && Math.floor(now.getTime() / MS_PER_DAY) >= day;
}

/** A GeneralizedTime (`20261231235959Z`, fractions and offsets allowed) as a Date. */
export function generalizedTimeToDate(value: string): Date | undefined {
  const m =
    /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,]\d+)?(Z|[+-]\d{2}(?:\d{2})?)$/.exec(
      value.trim(),
    );
  if (m === null) return undefined;
  const [, y, mo, d, h, mi = '00', sec = '00', zone = 'Z'] = m;
  const offset =
    zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.length === 5 ? zone.slice(3) : '00'}`;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${sec}${offset}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export const openLdap: Flavor = {
  name: 'openldap',
  attributes: {
    id: 'entryUUID',
    email: 'mail',
    aliases: [],
    firstName: 'givenName',
    lastName: 'sn',
    logins: ['uid'],
    smartcards: undefined,
    memberOf: 'memberOf',
    members: ['member', 'uniqueMember'],
    memberUid: 'memberUid',
    groupName: 'cn',
  },
  userFilter: '(objectClass=inetOrgPerson)',
  groupFilter:
    '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))',
  binaryAttributes: [],
  statusAttributes: ['pwdAccountLockedTime', 'shadowExpire'],
  nested: 'client',
  decodeId(entry, attribute) {
    return firstValue(entry, attribute);
  },
  disabled(entry) {
    // ppolicy: 000001010000Z is an administrative lock (until an admin unlocks). Any other value
    // is a lockout after failed binds, temporary under pwdLockoutDuration: anyone could trigger
    // it with wrong passwords, so it must not suspend people in the organization.
    return values(entry, 'pwdAccountLockedTime').some((v) => v.trim() === '000001010000Z');
  },
  expired(entry, now) {
    // shadowInactive is not read: it counts from a password expiry (shadowLastChange +
    // shadowMax), which is about passwords, and many trees never update shadowLastChange.
    return shadowExpired(entry, now);
  },
};

/**
 * 389 Directory Server, and what is built on it: Red Hat Directory Server, FreeIPA / Red Hat
 * IdM. `nsAccountLock: TRUE` is how `dsidm account lock` and `ipa user-disable` disable an
 * account (also as a virtual value from a locked role); nsUniqueId is kept across renames and
 * moves; the memberOf plugin keeps `memberOf` (nested groups included) on members.
 */
export const ds389: Flavor = {
  name: '389ds',
  // The same schema as OpenLDAP's (inetOrgPerson, groupOfNames, groupOfUniqueNames, posixGroup).
  attributes: { ...openLdap.attributes, id: 'nsUniqueId' },
  // nsPerson: the person object class of `dsidm user create` (389-DS 1.4+), not an inetOrgPerson.
  userFilter: '(|(objectClass=inetOrgPerson)(objectClass=nsPerson))',
  groupFilter: openLdap.groupFilter,
  binaryAttributes: [],
  // Operational attributes: returned only when asked for by name.
  statusAttributes: ['nsAccountLock', 'shadowExpire', 'krbPrincipalExpiration'],
  nested: 'client',
  decodeId(entry, attribute) {
    return firstValue(entry, attribute);
  },
  disabled(entry) {
    // The server itself refuses binds when the value is "true" in any case.
    return values(entry, 'nsAccountLock').some((v) => v.trim().toLowerCase() === 'true');
  },
  expired(entry, now) {
    // krbPrincipalExpiration: FreeIPA's account expiry (`ipa user-mod --principal-expiration`).
    const value = firstValue(entry, 'krbPrincipalExpiration');
    const at = value === undefined ? undefined : generalizedTimeToDate(value);
    return (at !== undefined && at.getTime() <= now.getTime()) || shadowExpired(entry, now);
  },
};

export const FLAVORS: Record<FlavorName, Flavor> = {
  ad: activeDirectory,
  openldap: openLdap,
  '389ds': ds389,
};

/** AD's RootDSE lists LDAP_CAP_ACTIVE_DIRECTORY_OID among supportedCapabilities. */
export const AD_CAPABILITY_OID = '1.2.840.113556.1.4.800';

/**
 * 389-DS names itself in the RootDSE: `vendorName: 389 Project` (389-DS, FreeIPA), `Red Hat,
 * Inc.` (Red Hat Directory Server), and `vendorVersion: 389-Directory/2.3.1 ...`
 * (`Red Hat-Directory/...`, `Fedora-Directory/...` on older builds).
 */
function is389(rootDse: RawEntry): boolean {
  return (
    values(rootDse, 'vendorName').some((v) => /^\s*(389 Project|Red Hat\b)/i.test(v)) ||
    values(rootDse, 'vendorVersion').some((v) => /^\s*(389|Red Hat|Fedora)-Directory\//i.test(v))
  );
}

/** The flavor a server's RootDSE says it is: AD, 389-DS, or else OpenLDAP (the generic one). */
export function flavorOfRootDse(rootDse: RawEntry | undefined): FlavorName {
  if (rootDse === undefined) return 'openldap';
  if (values(rootDse, 'supportedCapabilities').includes(AD_CAPABILITY_OID)) return 'ad';
  return is389(rootDse) ? '389ds' : 'openldap';
}

/** The flavor with the config's `attributes` merged over its defaults. */
export function withAttributes(
  flavor: Flavor,
  overrides: Partial<AttributeMap> | undefined,
): Flavor {
  if (overrides === undefined) return flavor;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...flavor, attributes: { ...flavor.attributes, ...defined } };
}
