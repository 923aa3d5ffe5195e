/**
 * What the rules decide for one directory user: the rank their groups give, whether the
 * directory wants them suspended, whether a guest is promoted. Pure: the planner (`plan.ts`)
 * and `dirsync explain` ask the same questions here.
 */
import type { RulesConfig } from '../config/schema.js';
import { normalizeDn } from '../directory/dn.js';
import type { DirectoryUser } from '../directory/model.js';
import type { Rank } from './model.js';

/** Rule group lists, normalized once per list (the config's arrays live as long as the run). */
const normalizedGroups = new WeakMap<readonly string[], { dn: string; as: string }[]>();
function normalizedRuleGroups(groups: readonly string[]): { dn: string; as: string }[] {
  let list = normalizedGroups.get(groups);
  if (list === undefined) {
    list = groups.map((g) => ({ dn: normalizeDn(g), as: g }));
    normalizedGroups.set(groups, list);
  }
  return list;
}

/** The first of `groups` (as written in the rules) the user is in. */
export function groupHit(user: DirectoryUser, groups: readonly string[]): string | undefined {
  if (groups.length === 0 || user.groups.length === 0) return undefined;
  for (const g of normalizedRuleGroups(groups)) if (user.groups.includes(g.dn)) return g.as;
  return undefined;
}

/** The rank the rules give, and the group behind it. */
export function desiredRank(user: DirectoryUser, rules: RulesConfig): { rank: Rank; why: string } {
  const superGroup = groupHit(user, rules.ranks.SUPER);
  if (superGroup !== undefined) return { rank: 'SUPER', why: `member of ${superGroup}` };
  const adminGroup = groupHit(user, rules.ranks.ADMIN);
  if (adminGroup !== undefined) return { rank: 'ADMIN', why: `member of ${adminGroup}` };
  return { rank: 'REGULAR', why: 'in no SUPER or ADMIN group' };
}

/** Ranks by power: a lower level is a demotion. */
export const RANK_LEVEL: Record<Rank, number> = { REGULAR: 0, ADMIN: 1, SUPER: 2 };

/** Why the directory wants the user suspended, or undefined. */
export function suspensionCause(user: DirectoryUser, rules: RulesConfig): string | undefined {
  if (rules.suspend.disabledAccounts && user.disabled)
    return `disabled in the directory (${user.dn})`;
  if (rules.suspend.disabledAccounts && user.expired)
    return `account expired in the directory (${user.dn})`;
  const group = groupHit(user, rules.suspend.groups);
  return group === undefined ? undefined : `member of the suspend group ${group}`;
}

/**
 * Why a guest found in the directory stays a guest (and so gets no other action): a note for
 * the plan, '' when promotion is off altogether, undefined when the guest is to be promoted.
 */
export function guestLeftAlone(
  dir: DirectoryUser,
  rules: RulesConfig,
  suspendCause: string | undefined,
): string | undefined {
  if (!rules.promoteGuests.enabled) return '';
  if (
    rules.promoteGuests.groups.length > 0 &&
    groupHit(dir, rules.promoteGuests.groups) === undefined
  )
    return 'guest found in the directory but in none of promoteGuests.groups: left a guest';
  if (suspendCause !== undefined) return `guest not promoted: ${suspendCause}`;
  return undefined;
}
