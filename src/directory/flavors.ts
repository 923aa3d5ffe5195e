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

export type FlavorName = 'ad' | 'openldap';
export type NestedStrategy = 'inChain' | 'client';

/** Everything that differs between Active Directory and OpenLDAP, in one object each. */
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
  statusAttributes: ['pwdAccountLockedTime'],
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
  expired() {
    return false;
  },
};

export const FLAVORS: Record<FlavorName, Flavor> = { ad: activeDirectory, openldap: openLdap };

/** AD's RootDSE lists LDAP_CAP_ACTIVE_DIRECTORY_OID among supportedCapabilities. */
export const AD_CAPABILITY_OID = '1.2.840.113556.1.4.800';

/** The flavor with the config's `attributes` merged over its defaults. */
export function withAttributes(
  flavor: Flavor,
  overrides: Partial<AttributeMap> | undefined,
): Flavor {
  if (overrides === undefined) return flavor;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...flavor, attributes: { ...flavor.attributes, ...defined } };
}
