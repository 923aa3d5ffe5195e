import {
  AndFilter,
  ApproximateFilter,
  EqualityFilter,
  type Filter,
  FilterParser,
  GreaterThanEqualsFilter,
  LessThanEqualsFilter,
  NotFilter,
  OrFilter,
  PresenceFilter,
  SubstringFilter,
} from 'ldapts';
import { firstRdnValue } from './dn.js';
import { values, type RawEntry } from './model.js';

/**
 * An LDAP search filter evaluated over entries already in memory (the LDIF source), so that
 * an LDIF export is filtered by the same `users.filter` / `groups.filter` as a live server.
 * Matching is case-insensitive over every value of multi-valued attributes.
 */
export type EntryPredicate = (entry: RawEntry) => boolean;

export function compileFilter(filter: string): EntryPredicate {
  return compile(FilterParser.parseString(filter));
}

/**
 * Why `filter` is not a valid LDAP filter (RFC 4515), or undefined when it is. Stricter than
 * ldapts' parser, which closes unbalanced parentheses itself: an unescaped parenthesis in a
 * filter is always structure (a value writes one as \\28 or \\29), so they must balance.
 */
export function filterProblem(filter: string): string | undefined {
  let depth = 0;
  for (const c of filter) {
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return 'a ")" closes more parentheses than were opened';
  }
  if (depth > 0) return `${depth} "(" not closed`;
  try {
    FilterParser.parseString(filter);
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/\. Full string: .*$/s, '');
  }
}

function valuesOf(entry: RawEntry, attribute: string): string[] {
  const vals = values(entry, attribute).map((v) => v.toLowerCase());
  // AD's objectCategory holds a schema DN but filters name it by its short form (person).
  if (attribute.toLowerCase() === 'objectcategory')
    return [...vals, ...vals.map((v) => firstRdnValue(v).toLowerCase())];
  return vals;
}

function text(value: string | Buffer): string {
  return (typeof value === 'string' ? value : value.toString('utf8')).toLowerCase();
}

function compile(filter: Filter): EntryPredicate {
  if (filter instanceof AndFilter) {
    const parts = filter.filters.map(compile);
    return (e) => parts.every((p) => p(e));
  }
  if (filter instanceof OrFilter) {
    const parts = filter.filters.map(compile);
    return (e) => parts.some((p) => p(e));
  }
  if (filter instanceof NotFilter) {
    const inner = compile(filter.filter);
    return (e) => !inner(e);
  }
  if (filter instanceof PresenceFilter) {
    return (e) => values(e, filter.attribute).length > 0;
  }
  if (filter instanceof EqualityFilter || filter instanceof ApproximateFilter) {
    const want = text(filter.value);
    return (e) => valuesOf(e, filter.attribute).includes(want);
  }
  if (filter instanceof SubstringFilter) {
    const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = new RegExp(
      `^${escape(filter.initial.toLowerCase())}.*${filter.any.map((a) => escape(a.toLowerCase())).join('.*')}${filter.any.length > 0 ? '.*' : ''}${escape(filter.final.toLowerCase())}$`,
      's',
    );
    return (e) => valuesOf(e, filter.attribute).some((v) => pattern.test(v));
  }
  if (filter instanceof GreaterThanEqualsFilter || filter instanceof LessThanEqualsFilter) {
    const want = filter.value.toLowerCase();
    const ge = filter instanceof GreaterThanEqualsFilter;
    return (e) =>
      valuesOf(e, filter.attribute).some((v) => {
        const numeric = /^-?\d+$/.test(v) && /^-?\d+$/.test(want);
        const cmp = numeric ? Number(v) - Number(want) : v.localeCompare(want);
        return ge ? cmp >= 0 : cmp <= 0;
      });
  }
  throw new Error(
    `the filter ${filter.toString()} uses an extensible match, which an LDIF source cannot evaluate`,
  );
}
