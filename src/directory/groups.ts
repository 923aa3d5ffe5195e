import { normalizeDn } from './dn.js';

/** A group as read, before nesting is resolved. All DNs normalized. */
export interface GroupNode {
  dn: string;
  name: string;
  /** Member DNs (users or groups) from member / uniqueMember. */
  members: string[];
  /** Member login names from posixGroup memberUid, lower-cased. */
  memberUids: string[];
  /** The group's own memberOf, when the server keeps it. */
  memberOf: string[];
}

/** A user as the resolver needs it. */
export interface MemberNode {
  dn: string;
  /** Values that posixGroup memberUid may name (the uid), lower-cased. */
  uids: string[];
  memberOf: string[];
}

/**
 * Client-side resolution of nested groups: each user's effective groups are the groups that
 * name it directly (member, uniqueMember, memberUid or its memberOf) and every group that
 * contains those, transitively. Cycles are harmless: each walk keeps a visited set.
 * Only groups in `groups` count; a memberOf pointing outside the group base DNs is ignored.
 */
export function resolveMemberships(
  users: readonly MemberNode[],
  groups: readonly GroupNode[],
): Map<string, string[]> {
  const known = new Map(groups.map((g) => [g.dn, g]));
  const parents = new Map<string, Set<string>>();
  const link = (child: string, group: string): void => {
    if (!known.has(group)) return;
    let set = parents.get(child);
    if (set === undefined) {
      set = new Set();
      parents.set(child, set);
    }
    set.add(group);
  };

  const userByUid = new Map<string, string>();
  for (const user of users) for (const uid of user.uids) userByUid.set(uid, user.dn);

  for (const group of groups) {
    for (const member of group.members) link(member, group.dn);
    for (const uid of group.memberUids) {
      const userDn = userByUid.get(uid);
      if (userDn !== undefined) link(userDn, group.dn);
    }
    for (const parent of group.memberOf) link(group.dn, parent);
  }
  for (const user of users) for (const group of user.memberOf) link(user.dn, group);

  const ancestorsMemo = new Map<string, Set<string>>();
  const ancestors = (groupDn: string): Set<string> => {
    const cached = ancestorsMemo.get(groupDn);
    if (cached !== undefined) return cached;
    const seen = new Set<string>([groupDn]);
    const queue = [groupDn];
    while (queue.length > 0) {
      const current = queue.pop()!;
      for (const parent of parents.get(current) ?? []) {
        if (!seen.has(parent)) {
          seen.add(parent);
          queue.push(parent);
        }
      }
    }
    ancestorsMemo.set(groupDn, seen);
    return seen;
  };

  // Users with the same direct groups have the same effective groups: compute each such set
  // once (keyed by group indices, which cannot collide the way joined DNs could).
  const index = new Map(groups.map((g, i) => [g.dn, i]));
  const byDirect = new Map<string, string[]>();
  const result = new Map<string, string[]>();
  for (const user of users) {
    const direct = parents.get(user.dn);
    if (direct === undefined) continue;
    const key = Array.from(direct, (g) => index.get(g)).join(',');
    let effective = byDirect.get(key);
    if (effective === undefined) {
      const all = new Set<string>();
      for (const group of direct) for (const g of ancestors(group)) all.add(g);
      effective = [...all].sort();
      byDirect.set(key, effective);
    }
    result.set(user.dn, effective.slice());
  }
  return result;
}

/** Normalizes a list of DNs, dropping empty ones. */
export function normalizeDns(dns: readonly string[]): string[] {
  return dns.map(normalizeDn).filter((d) => d !== '');
}
