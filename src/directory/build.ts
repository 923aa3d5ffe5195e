import { DirectoryError } from '../errors.js';
import { normalizeDn } from './dn.js';
import type { Flavor } from './flavors.js';
import { normalizeDns, type GroupNode, type MemberNode } from './groups.js';
import {
  firstValue,
  NONE,
  values,
  type DirectorySnapshot,
  type DirectoryUser,
  type DirectoryWarning,
  type RawEntry,
  type ReadStats,
} from './model.js';
import { lower, trimmed } from './text.js';

/** `CORP\Jdoe` -> `jdoe`. */
export function transformLogin(value: string): string {
  const text = trimmed(value);
  const slash = text.lastIndexOf('\\');
  return lower(slash >= 0 ? text.slice(slash + 1) : text);
}

export function normalizeEmail(value: string): string {
  return lower(trimmed(value));
}

/**
 * Alias addresses: `smtp:a@b` / `SMTP:a@b` give `a@b`; other typed addresses (X500:, SIP:) are
 * not email; untyped values count when they look like an address (userPrincipalName).
 */
export function parseAliases(raw: readonly string[]): {
  primary: string | undefined;
  aliases: string[];
} {
  let primary: string | undefined;
  const aliases: string[] = [];
  for (const value of raw) {
    const typed = /^([A-Za-z0-9]+):(.*)$/.exec(value.trim());
    if (typed !== null) {
      if (typed[1]!.toLowerCase() !== 'smtp') continue;
      const address = normalizeEmail(typed[2]!);
      if (typed[1] === 'SMTP') primary ??= address;
      if (address.includes('@')) aliases.push(address);
    } else if (value.includes('@')) {
      aliases.push(normalizeEmail(value));
    }
  }
  return { primary, aliases };
}

export interface MappedUser {
  user: DirectoryUser;
  node: MemberNode;
}

const lowerTrimmed = (value: string): string => lower(trimmed(value));
const same = (value: string): string => value;

/**
 * The distinct non-empty results of `map` over `first` then `second`. Sized exactly for the usual
 * single value: these lists live as long as the run, and a list grown by push reserves 17 slots.
 */
function distinctMapped(
  first: readonly string[],
  second: readonly string[],
  map: (value: string) => string,
): readonly string[] {
  const total = first.length + second.length;
  if (total === 0) return NONE;
  if (total === 1) {
    const only = map((first[0] ?? second[0])!);
    return only === '' ? NONE : [only];
  }
  const out: string[] = [];
  for (const list of [first, second]) {
    for (const raw of list) {
      const value = map(raw);
      if (value !== '' && !out.includes(value)) out.push(value);
    }
  }
  return out;
}

/** The values of several attributes, one list (no copy for the usual single attribute). */
function valuesOf(entry: RawEntry, attributes: readonly string[]): readonly string[] {
  if (attributes.length === 1) return values(entry, attributes[0]!);
  if (attributes.length === 0) return NONE;
  return attributes.flatMap((attr) => values(entry, attr));
}

/** One directory entry to a DirectoryUser (groups filled in later), or undefined with a warning. */
export function mapUser(
  entry: RawEntry,
  flavor: Flavor,
  now: Date,
  warnings: DirectoryWarning[],
): MappedUser | undefined {
  const a = flavor.attributes;
  const aliasValues = valuesOf(entry, a.aliases);
  const { primary, aliases: aliasList } =
    aliasValues.length === 0 ? { primary: undefined, aliases: NONE } : parseAliases(aliasValues);
  const mail = firstValue(entry, a.email);
  // Without mail, the primary SMTP address, else the first alias (AD without Exchange often has
  // only userPrincipalName): a person dropped here would count as gone from the directory.
  const email =
    mail !== undefined && trimmed(mail) !== '' ? normalizeEmail(mail) : (primary ?? aliasList[0]);
  if (email === undefined || email === '') {
    warnings.push({
      dn: entry.dn,
      message: `no ${a.email} and no alias address: the user cannot be matched and is skipped`,
    });
    return undefined;
  }
  const smartcards: string[] = [];
  if (a.smartcards !== undefined) {
    for (const raw of values(entry, a.smartcards)) {
      const number = raw.trim();
      if (/^\d+$/.test(number)) smartcards.push(number);
      else
        warnings.push({
          dn: entry.dn,
          message: `${a.smartcards} value ${JSON.stringify(raw)} is not a string of digits; ignored`,
        });
    }
  }
  const rawLogins = valuesOf(entry, a.logins);
  const logins = distinctMapped(rawLogins, NONE, transformLogin);
  // posixGroup memberUid may name the POSIX uid or a login.
  const uids = distinctMapped(values(entry, 'uid'), rawLogins, lowerTrimmed);
  const memberOf = values(entry, a.memberOf);
  const dn = normalizeDn(entry.dn);
  const user: DirectoryUser = {
    id: flavor.decodeId(entry, a.id) ?? dn,
    dn: entry.dn,
    email,
    aliases:
      aliasList.length === 0
        ? NONE
        : distinctMapped(aliasList, NONE, same).filter((x) => x !== email),
    firstName: trimmed(firstValue(entry, a.firstName) ?? ''),
    lastName: trimmed(firstValue(entry, a.lastName) ?? ''),
    logins,
    smartcards: distinctMapped(smartcards, NONE, same),
    groups: [],
    disabled: flavor.disabled(entry),
    expired: flavor.expired(entry, now),
  };
  const node: MemberNode = {
    dn,
    uids,
    memberOf: memberOf.length === 0 ? NONE : normalizeDns(memberOf),
  };
  return { user, node };
}

export function mapGroup(entry: RawEntry, flavor: Flavor, members: readonly string[]): GroupNode {
  const a = flavor.attributes;
  return {
    dn: normalizeDn(entry.dn),
    name: firstValue(entry, a.groupName) ?? entry.dn,
    members: normalizeDns(members),
    memberUids: values(entry, a.memberUid).map(lowerTrimmed),
    memberOf: normalizeDns(values(entry, a.memberOf)),
  };
}

/**
 * Puts a snapshot together: users deduplicated by DN (overlapping base DNs), each with its
 * effective groups among `groupsOfInterest` (all groups when empty).
 */
export function assembleSnapshot(input: {
  users: readonly MappedUser[];
  /** The effective groups of the user at `index` of `users` (normalized DN `dn`). */
  memberships: (index: number, dn: string) => readonly string[];
  groupNames: Map<string, string>;
  groupsOfInterest: readonly string[];
  warnings: DirectoryWarning[];
  stats: ReadStats;
  now: Date;
}): DirectorySnapshot {
  const interest =
    input.groupsOfInterest.length > 0
      ? new Set(input.groupsOfInterest.map(normalizeDn))
      : undefined;
  for (const dn of input.groupsOfInterest) {
    if (!input.groupNames.has(normalizeDn(dn))) {
      throw new DirectoryError(
        `the group ${dn}, named in the rules, was not found under source.groups.baseDns with source.groups.filter`,
        {
          hint: 'fix the group DN in the rules, or add its base DN to source.groups.baseDns; without it every member would lose what the group grants',
        },
      );
    }
  }
  // Lists are shared by users with the same groups: filtered once per list, not once per user.
  // A list already within the groups of interest (always so in-chain) is kept as it is.
  const filtered = new Map<readonly string[], readonly string[]>();
  const inInterest = (groups: readonly string[]): readonly string[] => {
    if (interest === undefined || groups.length === 0) return groups;
    let kept = filtered.get(groups);
    if (kept === undefined) {
      if (groups.every((g) => interest.has(g))) return groups;
      kept = groups.filter((g) => interest.has(g));
      filtered.set(groups, kept);
    }
    return kept;
  };
  // Overlapping base DNs, or a server that returns an entry twice while paging, can list a user
  // twice: one user, once (a second copy would make the person look ambiguous).
  const seen = new Set<string>();
  const users: DirectoryUser[] = [];
  for (let i = 0; i < input.users.length; i++) {
    const { user, node } = input.users[i]!;
    if (seen.has(node.dn)) continue;
    seen.add(node.dn);
    user.groups = inInterest(input.memberships(i, node.dn));
    users.push(user);
  }
  const groups = new Map<string, string>();
  for (const [dn, name] of input.groupNames)
    if (interest === undefined || interest.has(dn)) groups.set(dn, name);
  return {
    users,
    groups,
    warnings: input.warnings,
    stats: input.stats,
    readAt: input.now.toISOString(),
  };
}
