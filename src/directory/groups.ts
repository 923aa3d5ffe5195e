import { appendAll } from './append.js';
import { normalizeDn } from './dn.js';
import type { DirectoryWarning, UnresolvedMembers } from './model.js';

/** A group as read, before nesting is resolved. All DNs normalized. */
export interface GroupNode {
  dn: string;
  name: string;
  /**
   * Member DNs (users or groups) from member / uniqueMember (optional UID dropped), and the
   * memberUid values shaped like a DN.
   */
  members: string[];
  /** Member login names from posixGroup memberUid, lower-cased (values not shaped like a DN). */
  memberUids: string[];
  /** The group's own memberOf, when the server keeps it. */
  memberOf: string[];
}

/** A user as the resolver needs it. */
export interface MemberNode {
  dn: string;
  /** Values that posixGroup memberUid may name (the uid), lower-cased. */
  uids: readonly string[];
  memberOf: readonly string[];
}

/**
 * Client-side resolution of nested groups: a user's effective groups are the groups that name it
 * directly (member, uniqueMember, memberUid or its own memberOf) and every group that contains
 * those, transitively. Cycles are harmless: each walk keeps a visited mark. Only groups in the
 * graph count; a memberOf pointing outside the group base DNs is ignored.
 *
 * Built from the groups alone, so that each user can be resolved the moment it is read: member
 * DNs are indexed once (member DN -> groups), and a user costs one lookup of its own DN. The
 * work is done on group indices; users with the same direct groups share one result array, which
 * callers must not mutate.
 */
export class GroupGraph {
  /** Group DNs by index (the graph keeps no member list: those can be collected once built). */
  private readonly dns: readonly string[];
  private readonly groupIndex = new Map<string, number>();
  /** Member DN (not a group's) -> the groups that list it. */
  private readonly byMember = new Map<string, number[]>();
  /** memberUid value -> the groups that list it. */
  private readonly byUid = new Map<string, number[]>();
  private readonly parents: number[][];
  private readonly ancestorsMemo: (number[] | undefined)[];
  private readonly mark: Uint32Array;
  private stamp = 0;
  /** Each group's position in DN order: results sorted without comparing strings per user. */
  private readonly rank: Uint32Array;
  /** Effective groups per set of direct groups, as a trie over the sorted group indices. */
  private readonly sets: SetNode = { next: new Map() };
  /** Room for one user's direct groups: at most every group once. */
  private readonly scratch: Int32Array;
  /** Per group: its member values that are not groups (member DNs and memberUids). */
  private readonly leafValues: Uint32Array;
  /** Per group: whether a member value names another group read. */
  private readonly hasChildGroup: Uint8Array;
  private static readonly NONE: readonly string[] = Object.freeze([]);

  constructor(groups: readonly GroupNode[]) {
    this.dns = groups.map((g) => g.dn);
    const { groupIndex, byMember, byUid } = this;
    for (let g = 0; g < groups.length; g++) groupIndex.set(groups[g]!.dn, g);
    this.parents = groups.map(() => []);
    this.ancestorsMemo = new Array<number[] | undefined>(groups.length);
    this.mark = new Uint32Array(groups.length);
    this.scratch = new Int32Array(groups.length);
    this.leafValues = new Uint32Array(groups.length);
    this.hasChildGroup = new Uint8Array(groups.length);
    /** Whether `key` was new to group `g` (each value counts once per group). */
    const add = (index: Map<string, number[]>, key: string, g: number): boolean => {
      const list = index.get(key);
      if (list === undefined) index.set(key, [g]);
      else if (list[list.length - 1] !== g) list.push(g);
      else return false;
      return true;
    };
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      if (groupIndex.get(group.dn) !== g) continue; // a duplicate of a group read twice
      let leaves = 0;
      for (const member of group.members) {
        const child = groupIndex.get(member);
        if (child === undefined) {
          if (add(byMember, member, g)) leaves++;
        } else {
          this.addParent(child, g);
          this.hasChildGroup[g] = 1;
        }
      }
      for (const uid of group.memberUids) if (add(byUid, uid, g)) leaves++;
      this.leafValues[g] = leaves;
      for (const parentDn of group.memberOf) {
        const parent = groupIndex.get(parentDn);
        if (parent !== undefined) this.addParent(g, parent);
      }
    }
    this.rank = new Uint32Array(groups.length);
    groups
      .map((g, index) => ({ dn: g.dn, index }))
      .sort((a, b) => (a.dn < b.dn ? -1 : a.dn > b.dn ? 1 : 0))
      .forEach((entry, position) => (this.rank[entry.index] = position));
  }

  /** Whether a group names members by login (posixGroup memberUid). */
  get usesUids(): boolean {
    return this.byUid.size > 0;
  }

  /**
   * memberUid values that name more than one of `users` (a uid of one, the login of another).
   * Such a value grants nothing: giving a group, perhaps SUPER, to whichever account was read
   * last, or to all of them, would be a guess. Returned with the groups and users concerned,
   * for a warning each.
   */
  sharedUids(users: readonly MemberNode[]): {
    shared: ReadonlySet<string>;
    warnings: DirectoryWarning[];
  } {
    const owners = new Map<string, string[]>();
    for (const user of users) {
      for (const uid of user.uids) {
        if (!this.byUid.has(uid)) continue;
        const list = owners.get(uid);
        if (list === undefined) owners.set(uid, [user.dn]);
        else if (!list.includes(user.dn)) list.push(user.dn);
      }
    }
    const shared = new Set<string>();
    const warnings: DirectoryWarning[] = [];
    for (const [uid, dns] of owners) {
      if (dns.length < 2) continue;
      shared.add(uid);
      for (const g of this.byUid.get(uid)!) {
        warnings.push({
          dn: this.dns[g]!,
          message: `memberUid ${uid} names several users (${dns.join('; ')}): the group is given to none of them through it; make the login names unique`,
        });
      }
    }
    return { shared, warnings };
  }

  /**
   * Every user's effective groups, in order, once all users are known: memberUid values that
   * name several of them grant nothing (see {@link sharedUids}; the warnings go to `warnings`).
   */
  resolveAll(users: readonly MemberNode[], warnings: DirectoryWarning[]): (readonly string[])[] {
    let shared: ReadonlySet<string> | undefined;
    if (this.usesUids) {
      const found = this.sharedUids(users);
      shared = found.shared;
      appendAll(warnings, found.warnings);
    }
    return users.map((user) => this.effectiveGroups(user, shared));
  }

  /**
   * The user's effective group DNs, sorted. `sharedUids`: memberUid values that name more than
   * one user (see {@link sharedUids}), which grant nothing.
   */
  effectiveGroups(user: MemberNode, sharedUids?: ReadonlySet<string>): readonly string[] {
    // Called once per user: plain loops, no closure, no sort call, and no list of its own for the
    // direct groups (a scratch array of group indices, sorted as they come).
    const direct = this.scratch;
    let n = 0;
    const byMember = this.byMember.get(user.dn);
    if (byMember !== undefined) for (const g of byMember) n = insertSorted(direct, n, g);
    // A user entry that is also read as a group (rfc2307bis user private groups): the groups
    // that list it, or that its own memberOf names, count for the user too.
    const self = this.groupIndex.get(user.dn);
    if (self !== undefined) for (const g of this.parents[self]!) n = insertSorted(direct, n, g);
    if (this.byUid.size > 0) {
      for (const uid of user.uids) {
        if (sharedUids?.has(uid) === true) continue;
        const groups = this.byUid.get(uid);
        if (groups !== undefined) for (const g of groups) n = insertSorted(direct, n, g);
      }
    }
    for (const groupDn of user.memberOf) {
      const g = this.groupIndex.get(groupDn);
      if (g !== undefined) n = insertSorted(direct, n, g);
    }
    if (n === 0) return GroupGraph.NONE;
    // The set of direct groups, looked up by its sorted indices in a trie: no key string.
    let node = this.sets;
    for (let k = 0; k < n; k++) {
      const g = direct[k]!;
      let next = node.next.get(g);
      if (next === undefined) {
        next = { next: new Map() };
        node.next.set(g, next);
      }
      node = next;
    }
    if (node.effective === undefined) {
      const all = new Set<number>();
      for (let k = 0; k < n; k++) for (const a of this.ancestors(direct[k]!)) all.add(a);
      const rank = this.rank;
      node.effective = [...all].sort((a, b) => rank[a]! - rank[b]!).map((g) => this.dns[g]!);
    }
    return node.effective;
  }

  /**
   * The member values of `groups` (normalized DNs; the groups the rules name) that name none of
   * `users` and no group read: nesting is not a failure to resolve. A group with at least one
   * member value, none of which resolves, is marked `all`. Costs one pass over the member index
   * and one over the users, holding only the candidate values of these groups.
   */
  unresolvedMembers(users: Iterable<MemberNode>, groups: Iterable<string>): UnresolvedMembers[] {
    const wanted = new Set<number>();
    for (const dn of groups) {
      const g = this.groupIndex.get(dn);
      if (g !== undefined) wanted.add(g);
    }
    if (wanted.size === 0) return [];
    const candidates = (index: Map<string, number[]>): Map<string, number[]> => {
      const out = new Map<string, number[]>();
      for (const [value, list] of index) if (list.some((g) => wanted.has(g))) out.set(value, list);
      return out;
    };
    const dns = candidates(this.byMember);
    const uids = candidates(this.byUid);
    for (const user of users) {
      if (dns.size > 0) dns.delete(user.dn);
      if (uids.size > 0) for (const uid of user.uids) uids.delete(uid);
    }
    const found = new Map<number, UnresolvedMembers>();
    for (const left of [dns, uids]) {
      for (const [value, list] of left) {
        for (const g of list) {
          if (!wanted.has(g)) continue;
          let entry = found.get(g);
          if (entry === undefined) {
            entry = { group: this.dns[g]!, count: 0, sample: [], all: false };
            found.set(g, entry);
          }
          entry.count++;
          if (entry.sample.length < UNRESOLVED_SAMPLE) entry.sample.push(value);
        }
      }
    }
    for (const [g, entry] of found)
      entry.all = this.hasChildGroup[g] === 0 && entry.count === this.leafValues[g];
    return [...found.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  private addParent(child: number, parent: number): void {
    const list = this.parents[child]!;
    if (!list.includes(parent)) list.push(parent);
  }

  /** A group's ancestors, itself included: walked once and kept. */
  private ancestors(start: number): number[] {
    const cached = this.ancestorsMemo[start];
    if (cached !== undefined) return cached;
    const mark = this.mark;
    const stamp = ++this.stamp;
    const seen = [start];
    mark[start] = stamp;
    for (let k = 0; k < seen.length; k++) {
      for (const parent of this.parents[seen[k]!]!) {
        if (mark[parent] !== stamp) {
          mark[parent] = stamp;
          seen.push(parent);
        }
      }
    }
    this.ancestorsMemo[start] = seen;
    return seen;
  }
}

/** How many unresolved member values a report shows per group; the rest are counted. */
const UNRESOLVED_SAMPLE = 3;

/**
 * What unresolved member values mean, for the log, the plan notes, `check` and `explain`: the
 * count, a sample, and where such values usually come from.
 */
export function unresolvedMessage(u: UnresolvedMembers): string {
  const more = u.count > u.sample.length ? `, ${u.count - u.sample.length} more` : '';
  return (
    `${u.count} member ${u.count === 1 ? 'value resolves' : 'values resolve'} to no user read ` +
    `(${u.sample.join('; ')}${more}): ${u.count === 1 ? 'it gets' : 'they get'} nothing from the group. ` +
    'A member outside source.users.baseDns or source.users.filter (a group outside ' +
    'source.groups.baseDns), without a usable address, or deleted is left out; a memberUid ' +
    'must be a login or a DN'
  );
}

interface SetNode {
  next: Map<number, SetNode>;
  effective?: readonly string[];
}

/** Inserts `value` into the ascending `list[0, length)` unless it is there; the new length. */
function insertSorted(list: Int32Array, length: number, value: number): number {
  let i = length;
  while (i > 0 && list[i - 1]! > value) i--;
  if (i > 0 && list[i - 1] === value) return length;
  for (let j = length; j > i; j--) list[j] = list[j - 1]!;
  list[i] = value;
  return length + 1;
}

/**
 * Each user's effective groups (see {@link GroupGraph}), at the user's index in `users`.
 * Warnings (a memberUid naming several users) are added to `warnings`.
 */
export function resolveMemberships(
  users: readonly MemberNode[],
  groups: readonly GroupNode[],
  warnings: DirectoryWarning[] = [],
): (readonly string[])[] {
  return new GroupGraph(groups).resolveAll(users, warnings);
}

/**
 * The placeholder member Keycloak's LDAP federation (and tools that copied it) writes into a
 * group it keeps empty.
 */
export const EMPTY_MEMBERSHIP_PLACEHOLDER = 'cn=empty-membership-placeholder';

/**
 * Whether a member DN (normalized) only fills the member that groupOfNames and
 * groupOfUniqueNames require, so that a group can be empty: an empty value (the root DSE's DN),
 * the group's own DN, or Keycloak's `cn=empty-membership-placeholder`. None of these can name a
 * user, so they are not member values at all: never counted as unresolved, and a group holding
 * only placeholders is an empty group, not a group whose members all fail to resolve. Any other
 * value (`uid=nobody,...`, `cn=dummy`) may be a real entry left out of the read, so it counts.
 */
export function isPlaceholderMember(dn: string, groupDn: string): boolean {
  return dn === '' || dn === groupDn || dn === EMPTY_MEMBERSHIP_PLACEHOLDER;
}

/** Normalizes a list of DNs, dropping empty ones. */
export function normalizeDns(dns: readonly string[]): string[] {
  return dns.map(normalizeDn).filter((d) => d !== '');
}
