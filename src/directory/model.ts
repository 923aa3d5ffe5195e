/**
 * The directory as dirsync sees it, whatever the source (LDAP, Active Directory, LDIF).
 */

/** One person in the directory, normalized. */
export interface DirectoryUser {
  /** Stable id: AD objectGUID, else entryUUID, else the DN. */
  id: string;
  dn: string;
  /** Lower-cased, trimmed. */
  email: string;
  /** Other addresses of the same person (proxyAddresses smtp:, userPrincipalName), lower-cased. */
  aliases: readonly string[];
  firstName: string;
  lastName: string;
  /**
   * Workstation login names, transformed: lower-case, `DOMAIN\` stripped. Unknown (and not to
   * be acted on) when `problems` names `logins`: then this holds only the usable values.
   */
  logins: readonly string[];
  /** Smart card numbers, digits only. Unknown when `problems` names `smartcards`. */
  smartcards: readonly string[];
  /** Normalized DNs of the groups the user is in, nested groups resolved. Shared: never mutated. */
  groups: readonly string[];
  /** Disabled or locked in the directory. */
  disabled: boolean;
  /** AD accountExpires in the past. */
  expired: boolean;
  /**
   * Values dirsync cannot use (absent when there are none). A problem with `logins` or
   * `smartcards` makes that field unknown: the organization's value is left as it is.
   */
  problems?: readonly ValueProblem[];
}

/** The user fields a directory value feeds. */
export type ValueField = 'email' | 'aliases' | 'logins' | 'smartcards';

/**
 * A directory value that cannot be used: malformed (a card that is not digits, a login with a
 * space or a control character, an address that is not one), or an attribute the server sent
 * only in part (a ranged retrieval that did not finish).
 */
export interface ValueProblem {
  field: ValueField;
  /** The directory attribute, as the config or flavor names it (employeeNumber, mail). */
  attribute: string;
  /** The value, escaped (control characters visible) and cut short; '' for a partial read. */
  value: string;
  /** What is wrong with it (`holds a space`, `is not a string of digits`). */
  problem: string;
  /**
   * `email` and `aliases`: the address lower-cased with spaces and control characters taken
   * out, so the planner can tell an organization user this entry probably is.
   */
  resembles?: string;
}

/** What a problem means for the user, in the words of the warnings and the plan. */
export const CONSEQUENCE: Record<ValueField, string> = {
  email: 'the user cannot be matched by this address',
  aliases: 'the user cannot be matched by this address',
  logins: "the organization's computer usernames are left as they are",
  smartcards: "the organization's smart cards are left as they are",
};

/** Whether the directory's value of `field` is known: no problem makes it unknown. */
export function isKnown(user: DirectoryUser, field: ValueField): boolean {
  return user.problems === undefined || !user.problems.some((p) => p.field === field);
}

export interface DirectoryWarning {
  dn: string;
  message: string;
}

/** An entry skipped because none of its addresses can be used: it matches nobody. */
export interface UnusableEntry {
  dn: string;
  problems: readonly ValueProblem[];
}

/**
 * Member values of a group the rules name that point at no user read and at no group: a DN
 * outside source.users.baseDns or not matched by source.users.filter, an entry without a
 * usable address, a deleted entry, or a memberUid naming no login. They get nothing from the
 * group.
 */
export interface UnresolvedMembers {
  /** The group's normalized DN. */
  group: string;
  /** How many member values (member, uniqueMember, memberUid) resolve to nobody. */
  count: number;
  /** The first few of them, as read (DNs normalized, memberUid values lower-cased). */
  sample: string[];
  /** Whether every member value of the group is one of them (and it has at least one). */
  all: boolean;
}

/** What was read, so the planner can judge whether the read is complete and plausible. */
export interface ReadStats {
  /** The server (URL) or file the snapshot came from. */
  source: string;
  flavor: string;
  /** Entries read per user base DN. */
  usersPerBase: Record<string, number>;
  /** Entries read per group base DN. */
  groupsPerBase: Record<string, number>;
  /** Search continuation references met and skipped (normal in AD). */
  referencesSkipped: number;
  /** Users skipped for want of an email (also in `warnings`). */
  usersWithoutEmail: number;
  durationMs: number;
}

/**
 * A complete read of the directory. A source returns one only when everything was read:
 * a partial read is a `DirectoryError`, never a smaller snapshot.
 */
export interface DirectorySnapshot {
  users: DirectoryUser[];
  /** Normalized DN -> display name, for the groups that were resolved. */
  groups: Map<string, string>;
  warnings: DirectoryWarning[];
  /**
   * Entries skipped because an address they have cannot be used (no usable one left). Absent
   * from older sources; entries with no address at all are only counted (`usersWithoutEmail`).
   */
  unusable?: UnusableEntry[];
  /**
   * Groups the rules name with member values that resolve to no user read, by group DN. Absent
   * from sources that do not resolve members themselves (SCIM, AD's in-chain search).
   */
  unresolvedMembers?: UnresolvedMembers[];
  stats: ReadStats;
  /** ISO time the read finished. */
  readAt: string;
}

/** What the rules need from a read beyond users: the groups they mention (normalized DNs). */
export interface ReadRequest {
  /**
   * Groups whose (nested) membership matters. When empty, every group found under the group
   * base DNs is resolved.
   */
  groupsOfInterest: readonly string[];
}

export interface DirectorySource {
  read(request: ReadRequest): Promise<DirectorySnapshot>;
}

/**
 * An entry as a source hands it to the mapping: attribute names lower-cased, values as strings
 * (binary attributes such as objectGUID as Buffers).
 */
export interface RawEntry {
  dn: string;
  attributes: Map<string, (string | Buffer)[]>;
}

/** The one empty list entries and users share (lists are read-only once built). */
export const NONE: readonly string[] = Object.freeze([]);

/** Attribute names are few and asked for on every entry: lower-cased once each. */
const lowerCased = new Map<string, string>();
export function attributeKey(attribute: string): string {
  let key = lowerCased.get(attribute);
  if (key === undefined) {
    key = attribute.toLowerCase();
    if (lowerCased.size < 10_000) lowerCased.set(attribute, key);
  }
  return key;
}

/**
 * The values of an attribute as strings. Read-only: when every value is already a string (nearly
 * always), this is the entry's own list, not a copy.
 */
export function values(entry: RawEntry, attribute: string): readonly string[] {
  const v = entry.attributes.get(attributeKey(attribute));
  if (v === undefined) return NONE;
  for (const x of v) {
    if (typeof x !== 'string')
      return v.map((y) => (typeof y === 'string' ? y : y.toString('utf8')));
  }
  return v as string[];
}

export function firstValue(entry: RawEntry, attribute: string): string | undefined {
  const v = entry.attributes.get(attributeKey(attribute))?.[0];
  return v === undefined || typeof v === 'string' ? v : v.toString('utf8');
}
