import { DirectoryError } from '../errors.js';
import type { Logger } from '../log.js';
import { looksLikeDn, normalizeDn, withoutOptionalUid } from './dn.js';
import type { Flavor } from './flavors.js';
import {
  EMPTY_MEMBERSHIP_PLACEHOLDER,
  isPlaceholderMember,
  normalizeDns,
  type GroupGraph,
  type GroupNode,
  type MemberNode,
} from './groups.js';
import {
  attributeKey,
  CONSEQUENCE,
  firstValue,
  NONE,
  values,
  type DirectorySnapshot,
  type DirectoryUser,
  type DirectoryWarning,
  type RawEntry,
  type ReadStats,
  type UnresolvedMembers,
  type UnusableEntry,
  type ValueField,
  type ValueProblem,
} from './model.js';
import { displayValue, hasUnsafeCharacters, lower, printableAscii, trimmed } from './text.js';

/** `CORP\Jdoe` -> `jdoe`. */
export function transformLogin(value: string): string {
  const text = trimmed(value);
  const slash = text.lastIndexOf('\\');
  return lower(slash >= 0 ? text.slice(slash + 1) : text);
}

export function normalizeEmail(value: string): string {
  return lower(trimmed(value));
}

/** Why `address` (normalized) cannot be used as an email address; undefined when it can. */
export function addressProblem(address: string): string | undefined {
  // One pass for the usual printable-ASCII address; the Unicode-aware checks only otherwise.
  let at = -1;
  let dots = false;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c <= 32 || c >= 127) return unusualAddressProblem(address);
    if (c === 64) {
      if (at >= 0) return NOT_AN_ADDRESS;
      at = i;
    } else if (c === 46 && at >= 0 && (i === at + 1 || address.charCodeAt(i - 1) === 46)) {
      dots = true;
    }
  }
  if (at <= 0 || at === address.length - 1) return NOT_AN_ADDRESS;
  return dots || address.endsWith('.') ? 'has a malformed domain' : undefined;
}

const NOT_AN_ADDRESS = 'is not an address (one @ between a name and a domain)';

/** Outside printable ASCII: controls and spaces refused, other letters (jöe@) are fine. */
function unusualAddressProblem(address: string): string | undefined {
  if (hasUnsafeCharacters(address)) return 'holds a control character';
  if (/\s/u.test(address)) return 'holds a space';
  return addressProblem(address.replace(/[^\x21-\x7e]/gu, 'x'));
}

/** Why `login` (transformed) cannot be sent as a computer username; undefined when it can. */
export function loginProblem(login: string): string | undefined {
  if (login === '') return 'is empty once trimmed and stripped of its domain';
  if (printableAscii(login)) return undefined;
  if (hasUnsafeCharacters(login)) return 'holds a control character';
  if (/\s/u.test(login)) return 'holds a space';
  return undefined;
}

/** Why `number` (trimmed) cannot be sent as a smart card number; undefined when it can. */
export function cardProblem(number: string): string | undefined {
  if (/^\d+$/.test(number)) return undefined;
  return hasUnsafeCharacters(number) ? 'holds a control character' : 'is not a string of digits';
}

/**
 * Alias addresses: `smtp:a@b` / `SMTP:a@b` give `a@b`; other typed addresses (X500:, SIP:) are
 * not email; untyped values count when they look like an address (userPrincipalName). An
 * address that cannot be used is left out and told to `onUnusable`.
 */
export function parseAliases(
  raw: readonly string[],
  onUnusable?: (value: string, problem: string) => void,
): {
  primary: string | undefined;
  aliases: string[];
} {
  let primary: string | undefined;
  const aliases: string[] = [];
  for (const value of raw) {
    const typed = /^([A-Za-z0-9]+):(.*)$/s.exec(value.trim());
    let address: string;
    if (typed !== null) {
      if (typed[1]!.toLowerCase() !== 'smtp') continue;
      address = normalizeEmail(typed[2]!);
    } else if (value.includes('@')) {
      address = normalizeEmail(value);
    } else {
      continue;
    }
    const problem = addressProblem(address);
    if (problem !== undefined) {
      onUnusable?.(value, problem);
      continue;
    }
    if (typed?.[1] === 'SMTP') primary ??= address;
    aliases.push(address);
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

/** A value sent in ranges (`proxyAddresses;range=0-1499`): AD does so past MaxValRange values. */
interface Ranged {
  values: string[];
  /** `0-1499`, or `0-*` when this range is the last. */
  range: string;
}

/**
 * The ranged attributes of an entry, by lower-case attribute name; undefined when there are
 * none (nearly always: one scan of the entry's few attribute names).
 */
function rangedAttributes(entry: RawEntry): Map<string, Ranged> | undefined {
  let out: Map<string, Ranged> | undefined;
  for (const key of entry.attributes.keys()) {
    // `attr;range=0-1499` or `attr;range=0-*`: attribute names end in a letter nearly always.
    const last = key.charCodeAt(key.length - 1);
    if (last !== 42 && (last < 48 || last > 57)) continue;
    const at = key.indexOf(';range=');
    if (at < 0) continue;
    out ??= new Map();
    out.set(key.slice(0, at), {
      values: entry.attributes
        .get(key)!
        .map((v) => (typeof v === 'string' ? v : v.toString('utf8'))),
      range: key.slice(at + ';range='.length),
    });
  }
  return out;
}

/**
 * A value `raw` of `attribute` that cannot be used: shown escaped and cut short, and for an
 * address the address it resembles.
 */
export function valueProblem(
  field: ValueField,
  attribute: string,
  raw: string,
  why: string,
): ValueProblem {
  const p: ValueProblem = { field, attribute, value: displayValue(raw), problem: why };
  if ((field === 'email' || field === 'aliases') && raw !== '') p.resembles = resemblance(raw);
  return p;
}

/**
 * The usable smart card numbers among `raw` (trimmed, distinct); each other value goes to
 * `report`. Any report makes the user's cards unknown. Every source maps cards with this.
 */
export function usableCards(
  raw: readonly string[],
  report: (value: string, why: string) => void,
): readonly string[] {
  const kept: string[] = [];
  for (const value of raw) {
    const number = value.trim();
    const why = cardProblem(number);
    if (why === undefined) kept.push(number);
    else report(value, why);
  }
  return distinctMapped(kept, NONE, same);
}

/**
 * The usable login names among `raw` (transformed, distinct); each other value goes to
 * `report`. Any report makes the user's logins unknown. Every source maps logins with this.
 */
export function usableLogins(
  raw: readonly string[],
  report: (value: string, why: string) => void,
): readonly string[] {
  const kept: string[] = [];
  for (const value of raw) {
    const login = transformLogin(value);
    const why = loginProblem(login);
    if (why === undefined) kept.push(login);
    else report(value, why);
  }
  return distinctMapped(kept, NONE, same);
}

/** The warning line of a value problem (logged, and shown by `check`). */
export function problemMessage(p: ValueProblem): string {
  const what = p.value === '' ? p.attribute : `${p.attribute} value "${p.value}"`;
  return `${what} ${p.problem}: ${CONSEQUENCE[p.field]}`;
}

/**
 * One directory entry to a DirectoryUser (groups filled in later), or undefined with a warning.
 * A value that cannot be used is a problem on the user, which makes its field unknown (never
 * empty); an entry with no usable address is skipped and, when it had an unusable one, listed
 * in `unusable` so the plan can name it.
 */
export function mapUser(
  entry: RawEntry,
  flavor: Flavor,
  now: Date,
  warnings: DirectoryWarning[],
  unusable?: UnusableEntry[],
): MappedUser | undefined {
  const a = flavor.attributes;
  const ranged = rangedAttributes(entry);
  let problems: ValueProblem[] | undefined;
  const problem = (field: ValueField, attribute: string, raw: string, why: string): void => {
    const p = valueProblem(field, attribute, raw, why);
    (problems ??= []).push(p);
    warnings.push({ dn: entry.dn, message: problemMessage(p) });
  };
  /** The values of one attribute: with the ranges the server sent, unless they stop short. */
  const read = (attribute: string, field: ValueField): readonly string[] => {
    const plain = values(entry, attribute);
    const r = ranged?.get(attributeKey(attribute));
    if (r === undefined) return plain;
    if (r.range.endsWith('-*')) return plain.length === 0 ? r.values : [...plain, ...r.values];
    problem(
      field,
      attribute,
      '',
      `was read in part (the server sent the range ${r.range} and the rest was not read)`,
    );
    return NONE;
  };
  const readAll = (attributes: readonly string[], field: ValueField): readonly string[] =>
    ranged === undefined
      ? valuesOf(entry, attributes)
      : attributes.flatMap((attribute) => read(attribute, field));

  const aliasValues = readAll(a.aliases, 'aliases');
  const { primary, aliases: aliasList } =
    aliasValues.length === 0
      ? { primary: undefined, aliases: NONE }
      : parseAliases(aliasValues, (value, why) =>
          problem('aliases', aliasAttribute(entry, a.aliases, value), value, why),
        );
  const mail = firstValue(entry, a.email);
  let address: string | undefined;
  if (mail !== undefined && trimmed(mail) !== '') {
    const normalized = normalizeEmail(mail);
    const why = addressProblem(normalized);
    if (why === undefined) address = normalized;
    else problem('email', a.email, mail, why);
  }
  // Without mail, the primary SMTP address, else the first alias (AD without Exchange often has
  // only userPrincipalName): a person dropped here would count as gone from the directory.
  const email = address ?? primary ?? aliasList[0];
  if (email === undefined || email === '') {
    if (problems === undefined) {
      warnings.push({
        dn: entry.dn,
        message: `no ${a.email} and no alias address: the user cannot be matched and is skipped`,
      });
    } else {
      warnings.push({
        dn: entry.dn,
        message: `no usable ${a.email} or alias address: the entry matches nobody and is skipped`,
      });
      unusable?.push({ dn: entry.dn, problems });
    }
    return undefined;
  }
  const cardAttribute = a.smartcards;
  const smartcards =
    cardAttribute === undefined
      ? NONE
      : usableCards(read(cardAttribute, 'smartcards'), (raw, why) =>
          problem('smartcards', cardAttribute, raw, why),
        );
  const loginLists = a.logins.map((attribute) =>
    ranged === undefined ? values(entry, attribute) : read(attribute, 'logins'),
  );
  const rawLogins = loginLists.length === 1 ? loginLists[0]! : loginLists.flat();
  let logins = distinctMapped(rawLogins, NONE, transformLogin);
  if (
    rawLogins.length !== logins.length ||
    logins.some((login) => loginProblem(login) !== undefined)
  ) {
    // Rare: a value to refuse, an empty one, or duplicates. Each attribute, value by value.
    const kept = a.logins.flatMap((attribute, i) =>
      usableLogins(loginLists[i]!, (raw, why) => problem('logins', attribute, raw, why)),
    );
    logins = distinctMapped(kept, NONE, same);
  }
  // posixGroup memberUid may name the POSIX uid or a login.
  const uids = distinctMapped(values(entry, 'uid'), rawLogins, lowerTrimmed);
  const memberOf = values(entry, a.memberOf);
  if (ranged?.get(attributeKey(a.memberOf))?.range.endsWith('-*') === false) {
    warnings.push({
      dn: entry.dn,
      message: `${a.memberOf} was read in part: groups are taken from the groups' member lists`,
    });
  }
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
    smartcards,
    groups: [],
    disabled: flavor.disabled(entry),
    expired: flavor.expired(entry, now),
  };
  if (problems !== undefined) user.problems = problems;
  const node: MemberNode = {
    dn,
    uids,
    memberOf: memberOf.length === 0 ? NONE : normalizeDns(memberOf),
  };
  return { user, node };
}

/**
 * An unusable address as the address it was probably meant to be: `smtp:` taken off, spaces and
 * control characters taken out, lower-cased.
 */
export function resemblance(raw: string): string {
  return lower(raw.replace(/[\p{Cc}\p{Cf}\p{Z}\s]/gu, '').replace(/^smtp:/i, ''));
}

/** How many warnings a read logs one by one; the rest are counted. */
const LOGGED_WARNINGS = 50;

/** Logs a read's warnings (DN and problem each), so no source drops them silently. */
export function logWarnings(logger: Logger, warnings: readonly DirectoryWarning[]): void {
  for (const w of warnings.slice(0, LOGGED_WARNINGS))
    logger.warn('directory entry warning', { dn: w.dn, problem: w.message });
  if (warnings.length > LOGGED_WARNINGS)
    logger.warn('more directory entry warnings not logged', {
      count: warnings.length - LOGGED_WARNINGS,
    });
}

/** Which of the alias attributes holds `value` (for the problem's report). */
function aliasAttribute(entry: RawEntry, attributes: readonly string[], value: string): string {
  return (
    attributes.find((attribute) => values(entry, attribute).includes(value)) ??
    attributes[0] ??
    'aliases'
  );
}

/**
 * A group entry, with `members` the values of its member attributes. A uniqueMember's optional
 * UID (`...#'0101'B`) is dropped; a memberUid shaped like a DN is a member DN, not a login.
 * Placeholders (see {@link isPlaceholderMember}) are not member values at all.
 */
export function mapGroup(entry: RawEntry, flavor: Flavor, members: readonly string[]): GroupNode {
  const a = flavor.attributes;
  const groupDn = normalizeDn(entry.dn);
  const memberDns: string[] = [];
  const addDn = (value: string): void => {
    const dn = normalizeDn(value);
    if (!isPlaceholderMember(dn, groupDn)) memberDns.push(dn);
  };
  for (const value of members) addDn(withoutOptionalUid(value));
  const memberUids: string[] = [];
  for (const value of values(entry, a.memberUid)) {
    if (looksLikeDn(value)) {
      addDn(value);
    } else {
      const uid = lowerTrimmed(value);
      if (uid !== '') memberUids.push(uid);
    }
  }
  return {
    dn: groupDn,
    name: firstValue(entry, a.groupName) ?? entry.dn,
    members: memberDns,
    memberUids,
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
  /** Entries skipped for an address that cannot be used (see `mapUser`). */
  unusable?: UnusableEntry[];
  /**
   * The groups as read, when the source resolves members itself: the member values of the
   * groups of interest that name no user read are reported (and logged to `logger`).
   */
  graph?: GroupGraph | undefined;
  logger?: Logger;
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
  const unresolved = unresolvedOfInterest(input, interest, users);
  return {
    users,
    groups,
    warnings: input.warnings,
    unusable: input.unusable ?? [],
    ...(unresolved === undefined ? {} : { unresolvedMembers: unresolved }),
    stats: input.stats,
    readAt: input.now.toISOString(),
  };
}

/**
 * The member values of the groups of interest that resolve to no user read, each group's logged
 * as a warning. A group none of whose values resolves (and that none of `users` is in, say by
 * its own memberOf) is an error, as a missing one is: every member would lose what it grants.
 */
function unresolvedOfInterest(
  input: {
    graph?: GroupGraph | undefined;
    users: readonly MappedUser[];
    groupsOfInterest: readonly string[];
    logger?: Logger;
  },
  interest: ReadonlySet<string> | undefined,
  users: readonly DirectoryUser[],
): UnresolvedMembers[] | undefined {
  const { graph, logger } = input;
  if (graph === undefined) return undefined;
  if (interest === undefined) return [];
  const found = graph.unresolvedMembers(
    input.users.map((m) => m.node),
    interest,
  );
  for (const u of found) {
    logger?.warn('members of a rule group resolve to no user read', {
      group: u.group,
      count: u.count,
      sample: u.sample,
    });
  }
  const empty = found.filter((u) => u.all);
  if (empty.length > 0) {
    const reached = new Set<string>();
    const lists = new Set<readonly string[]>();
    for (const user of users) {
      if (lists.has(user.groups)) continue;
      lists.add(user.groups);
      for (const g of user.groups) reached.add(g);
    }
    const u = empty.find((x) => !reached.has(x.group));
    if (u !== undefined) {
      const named = input.groupsOfInterest.find((dn) => normalizeDn(dn) === u.group) ?? u.group;
      throw new DirectoryError(
        `the group ${named}, named in the rules, has ${u.count} member ${u.count === 1 ? 'value' : 'values'} and none is a user read under source.users.baseDns with source.users.filter (${u.sample.join('; ')})`,
        {
          hint: `make source.users.baseDns and source.users.filter cover its members, or fix its member values (member and uniqueMember hold user DNs, memberUid a login or a DN); without it every member would lose what the group grants. If the group is meant to be empty and a value only fills groupOfNames' required member, make that placeholder the group's own DN (member: ${named}) or ${EMPTY_MEMBERSHIP_PLACEHOLDER}: those are not members`,
        },
      );
    }
  }
  return found;
}
