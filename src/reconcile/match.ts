import type { DirectoryUser } from '../directory/model.js';
import type { OrgUser } from './model.js';

export interface MatchResult {
  /** emailId -> the directory user it corresponds to. */
  matches: Map<number, DirectoryUser>;
  /** Organization emails claimed by several directory users, or by an alias of someone matched already. */
  ambiguous: { email: string; dns: string[] }[];
  /** emailIds left alone because their match is ambiguous. */
  ambiguousIds: Set<number>;
  /** Directory users no organization user matched. */
  unmatched: DirectoryUser[];
}

function index(
  users: readonly DirectoryUser[],
  key: (u: DirectoryUser) => readonly string[],
): Map<string, DirectoryUser[]> {
  const map = new Map<string, DirectoryUser[]>();
  const put = (k: string, user: DirectoryUser): void => {
    const list = map.get(k);
    if (list === undefined) map.set(k, [user]);
    else list.push(user);
  };
  for (const user of users) {
    const keys = key(user);
    if (keys.length === 1) put(keys[0]!, user);
    else if (keys.length > 1) for (const k of new Set(keys)) put(k, user);
  }
  return map;
}

/**
 * Matches organization users to directory users by email, case-insensitively: first by the
 * directory's primary email, then through aliases (proxyAddresses, userPrincipalName). An email
 * that several directory users claim, or an alias of a person already matched by primary
 * email, is ambiguous: reported, never acted on (and never removed).
 */
export function matchUsers(
  directory: readonly DirectoryUser[],
  organization: readonly OrgUser[],
): MatchResult {
  const byPrimary = index(directory, (u) => [u.email]);
  const byAlias = index(directory, (u) => u.aliases);
  const matches = new Map<number, DirectoryUser>();
  const ambiguous: MatchResult['ambiguous'] = [];
  const ambiguousIds = new Set<number>();
  const claimed = new Set<DirectoryUser>();

  const viaAlias: OrgUser[] = [];
  for (const org of organization) {
    const email = org.email.trim().toLowerCase();
    const primary = byPrimary.get(email) ?? [];
    if (primary.length === 1) {
      matches.set(org.emailId, primary[0]!);
      claimed.add(primary[0]!);
    } else if (primary.length > 1) {
      ambiguous.push({ email: org.email, dns: primary.map((u) => u.dn) });
      ambiguousIds.add(org.emailId);
      primary.forEach((u) => claimed.add(u));
    } else {
      viaAlias.push(org);
    }
  }
  // Alias claims are settled together, so the outcome does not depend on listing order: a
  // person reached through aliases by several accounts matches none of them.
  const aliasClaims = new Map<DirectoryUser, number>();
  for (const org of viaAlias) {
    const candidates = byAlias.get(org.email.trim().toLowerCase()) ?? [];
    if (candidates.length === 1)
      aliasClaims.set(candidates[0]!, (aliasClaims.get(candidates[0]!) ?? 0) + 1);
  }
  for (const org of viaAlias) {
    const candidates = byAlias.get(org.email.trim().toLowerCase()) ?? [];
    if (candidates.length === 0) continue;
    const only = candidates.length === 1 ? candidates[0]! : undefined;
    if (only !== undefined && !claimed.has(only) && aliasClaims.get(only) === 1) {
      matches.set(org.emailId, only);
    } else {
      ambiguous.push({ email: org.email, dns: candidates.map((u) => u.dn) });
      ambiguousIds.add(org.emailId);
    }
  }
  for (const [user] of aliasClaims) claimed.add(user);
  return { matches, ambiguous, ambiguousIds, unmatched: directory.filter((u) => !claimed.has(u)) };
}
