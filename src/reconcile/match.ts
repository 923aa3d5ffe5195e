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

/**
 * Directory users by key, as indices into the directory: one index, or the list of them when
 * several users share the key. Indices, not users: no array per user, and a claimed user is a
 * byte in an array rather than an object in a Set (100k of those cost ~0.5 s a run).
 */
type Index = Map<string, number | number[]>;

function put(map: Index, key: string, i: number): void {
  const at = map.get(key);
  if (at === undefined) map.set(key, i);
  else if (typeof at === 'number') map.set(key, [at, i]);
  else at.push(i);
}

function byPrimaryEmail(users: readonly DirectoryUser[]): Index {
  const map: Index = new Map();
  for (let i = 0; i < users.length; i++) put(map, users[i]!.email, i);
  return map;
}

function byAliases(users: readonly DirectoryUser[]): Index {
  const map: Index = new Map();
  for (let i = 0; i < users.length; i++) {
    const aliases = users[i]!.aliases;
    if (aliases.length === 1) put(map, aliases[0]!, i);
    else if (aliases.length > 1) for (const alias of new Set(aliases)) put(map, alias, i);
  }
  return map;
}

const indices = (at: number | number[]): number[] => (typeof at === 'number' ? [at] : at);

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
  const byPrimary = byPrimaryEmail(directory);
  const byAlias = byAliases(directory);
  const matches = new Map<number, DirectoryUser>();
  const ambiguous: MatchResult['ambiguous'] = [];
  const ambiguousIds = new Set<number>();
  const claimed = new Uint8Array(directory.length);
  const dns = (at: number | number[]): string[] => indices(at).map((i) => directory[i]!.dn);

  const viaAlias: OrgUser[] = [];
  for (const org of organization) {
    const primary = byPrimary.get(org.email.trim().toLowerCase());
    if (primary === undefined) {
      viaAlias.push(org);
    } else if (typeof primary === 'number') {
      matches.set(org.emailId, directory[primary]!);
      claimed[primary] = 1;
    } else {
      ambiguous.push({ email: org.email, dns: dns(primary) });
      ambiguousIds.add(org.emailId);
      for (const i of primary) claimed[i] = 1;
    }
  }
  // Alias claims are settled together, so the outcome does not depend on listing order: a
  // person reached through aliases by several accounts matches none of them.
  const aliasClaims = new Map<number, number>();
  for (const org of viaAlias) {
    const only = byAlias.get(org.email.trim().toLowerCase());
    if (typeof only === 'number') aliasClaims.set(only, (aliasClaims.get(only) ?? 0) + 1);
  }
  for (const org of viaAlias) {
    const candidates = byAlias.get(org.email.trim().toLowerCase());
    if (candidates === undefined) continue;
    if (
      typeof candidates === 'number' &&
      claimed[candidates] === 0 &&
      aliasClaims.get(candidates) === 1
    ) {
      matches.set(org.emailId, directory[candidates]!);
    } else {
      ambiguous.push({ email: org.email, dns: dns(candidates) });
      ambiguousIds.add(org.emailId);
    }
  }
  for (const [i] of aliasClaims) claimed[i] = 1;
  return {
    matches,
    ambiguous,
    ambiguousIds,
    unmatched: directory.filter((_, i) => claimed[i] === 0),
  };
}
