/**
 * Which organization users dirsync may change: `rules.scope` compiled once into sets, so that
 * deciding one address costs a hash lookup or two plus one walk over its domain's suffixes,
 * whatever the number of domains (an organization with thousands of them plans in O(users)).
 * Pure: no I/O.
 */

import type { RulesConfig } from '../config/schema.js';

/** A compiled `rules.scope`. */
export interface Scope {
  /** Whether the organization user with this email is inside the scope. */
  includes(email: string): boolean;
}

const WILDCARD = '*.';

/**
 * Why `entry` of `rules.scope.emailDomains` is not usable, or undefined when it is: an email
 * domain, or `*.` and a domain for every subdomain of it. A `*` anywhere else (`*`, `*.`,
 * `a.*.b`, `*example.com`) means nothing dirsync can match.
 */
export function domainEntryProblem(entry: string): string | undefined {
  const domain = entry.trim();
  const rest = domain.startsWith(WILDCARD) ? domain.slice(WILDCARD.length) : domain;
  if (rest === '' || rest.includes('*') || rest.startsWith('.') || /\s/.test(rest))
    return `"${entry}" is not an email domain: write a domain (corp.example.com) or *. and a domain (*.example.com: every subdomain of example.com, not example.com itself); a * may only start the entry, as a whole label`;
  return undefined;
}

/** The domain of an address, lower-cased (all of it when there is no @). */
export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * `rules.scope` compiled: exact domains and the parents of `*.` entries in sets, excluded
 * addresses in a set, all lower-cased and trimmed (domains and addresses compare
 * case-insensitively). Build it once per plan, not once per user.
 */
export function compileScope(scope: RulesConfig['scope']): Scope {
  const exact = new Set<string>();
  /** `*.example.com` is kept as `example.com`: a domain strictly below it is in scope. */
  const below = new Set<string>();
  for (const entry of scope.emailDomains) {
    const domain = entry.trim().toLowerCase();
    if (domain.startsWith(WILDCARD)) below.add(domain.slice(WILDCARD.length));
    else exact.add(domain);
  }
  const excluded = new Set(scope.exclude.map((x) => x.trim().toLowerCase()));
  return {
    includes(email: string): boolean {
      const address = email.trim().toLowerCase();
      if (excluded.size > 0 && excluded.has(address)) return false;
      const domain = emailDomain(address);
      if (exact.has(domain)) return true;
      if (below.size === 0) return false;
      // Each proper suffix after a dot, longest first: a.b.example.com tries b.example.com,
      // example.com, com. The apex itself is never tried, so *.example.com leaves it out.
      for (let dot = domain.indexOf('.'); dot >= 0; dot = domain.indexOf('.', dot + 1))
        if (below.has(domain.slice(dot + 1))) return true;
      return false;
    },
  };
}

/** How many `rules.scope.emailDomains` entries {@link outOfScopeReason} names; the rest counted. */
const DOMAINS_SHOWN = 5;

/**
 * Why an address is out of scope, in a line (for `explain`): excluded, or its domain and the
 * first few domain entries with how many more (a scope may list thousands of domains).
 */
export function outOfScopeReason(email: string, scope: RulesConfig['scope']): string {
  const address = email.trim().toLowerCase();
  if (scope.exclude.some((x) => x.trim().toLowerCase() === address))
    return 'rules.scope.exclude lists it';
  const domains = scope.emailDomains;
  const more = domains.length > DOMAINS_SHOWN ? ` and ${domains.length - DOMAINS_SHOWN} more` : '';
  return `domain ${emailDomain(address)}; rules.scope.emailDomains: ${domains.slice(0, DOMAINS_SHOWN).join(', ')}${more}`;
}
