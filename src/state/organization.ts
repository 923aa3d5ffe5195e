import { ConfigError } from '../errors.js';
import type { OrganizationIdentity, StateRecord } from './model.js';

/**
 * How a state record knows its organization again, beyond the base URL (two organizations can
 * share one API). The token cannot tell: it is rotated, and it must never be stored. What the
 * listings show can: each user's email_id and user_id pair, numbers the API gives out once.
 * The record keeps the pairs of the organization's oldest users (smallest email_ids: the least
 * likely to leave between two runs), refreshed by every run that reads a complete listing, and
 * the token owner's email when `api.tokenOwner` is set, to name the organization in messages.
 */

/** Pairs kept: enough that a whole sample leaving between two runs does not happen in practice. */
export const ORGANIZATION_SAMPLE_SIZE = 32;

/** A user as the listings show them; only the ids and the email are read. */
export interface ListedUser {
  emailId: number;
  userId: number;
  email: string;
}

/** What the record keeps of the organization a complete listing shows. */
export function organizationIdentity(
  users: readonly ListedUser[],
  tokenOwner: string | undefined,
): OrganizationIdentity {
  const sample = users
    .map((u): [number, number] => [u.emailId, u.userId])
    .sort((a, b) => a[0] - b[0])
    .slice(0, ORGANIZATION_SAMPLE_SIZE);
  return tokenOwner === undefined ? { sample } : { tokenOwner, sample };
}

export type OrganizationVerdict =
  | { same: true }
  /** Nothing to compare: a new record, or an empty listing. */
  | { same: undefined }
  | { same: false; reason: string };

/**
 * Whether the organization `users` lists is the one `state` was written for. With a sample, one
 * pair seen again (same email_id, same user_id) is enough. A record written before samples were
 * kept is judged by the users it records (same email_id, same email). A record with neither, or
 * an empty listing, gives no evidence either way.
 */
export function judgeOrganization(
  state: StateRecord,
  users: readonly ListedUser[],
): OrganizationVerdict {
  if (users.length === 0) return { same: undefined };
  const sample = state.organization?.sample ?? [];
  if (sample.length > 0) return judgeSample(sample, users);
  const recorded = Object.entries(state.users);
  if (recorded.length === 0) return { same: undefined };
  const emails = new Map(users.map((u) => [u.emailId, u.email.toLowerCase()]));
  if (recorded.some(([id, u]) => emails.get(Number(id)) === u.email.toLowerCase()))
    return { same: true };
  return {
    same: false,
    reason: `none of the ${recorded.length} users it records (by email_id and email) is in this organization's listing`,
  };
}

/**
 * Whether `users` lists the organization `sample` was taken from: one (email_id, user_id) pair
 * seen again is enough. An empty sample or listing gives no evidence either way.
 */
export function judgeSample(
  sample: OrganizationIdentity['sample'],
  users: readonly ListedUser[],
): OrganizationVerdict {
  if (sample.length === 0 || users.length === 0) return { same: undefined };
  const userIds = new Map<number, number>(users.map((u) => [u.emailId, u.userId]));
  if (sample.some(([emailId, userId]) => userIds.get(emailId) === userId)) return { same: true };
  return {
    same: false,
    reason: `none of the ${sample.length} users it last saw there (by email_id and user_id) is in this organization's listing`,
  };
}

/**
 * Refuses a state record of another organization: its ranks, suspension flags and timers
 * would be taken for this organization's (a SUPER recorded there would count here).
 */
export function checkOrganization(
  state: StateRecord,
  users: readonly ListedUser[],
  path: string,
): void {
  const verdict = judgeOrganization(state, users);
  if (verdict.same !== false) return;
  const owner = state.organization?.tokenOwner;
  const whose = owner === undefined ? '' : ` (the one of api.tokenOwner ${owner})`;
  throw new ConfigError(
    `state record ${path} belongs to another organization${whose} on ${state.apiBaseUrl ?? 'this API'}: ${verdict.reason}`,
    {
      hint: `give each organization its own state.path. If it really is this organization and every user the record names has left it, move ${path} aside: dirsync then starts afresh (it re-reads every user and sets every rank again)`,
    },
  );
}
