import { z } from 'zod';
import { Rank, ToggleStatus } from '../api/schema.js';

/**
 * The state record: what dirsync knows that the API cannot tell it. Rank is unobservable, so
 * the record keeps the rank dirsync last set; it also vouches for computer usernames and smart
 * cards it set or read, so that quiet runs need no per-user reads, and it keeps removal timers.
 * Keyed by email_id (a string key in JSON).
 */
export const PendingToggle = z.object({
  /** The status the toggle was sent to reach. */
  want: ToggleStatus,
  /** The status read before it was sent. */
  from: ToggleStatus,
  sentAt: z.string(),
  /** Its own run could not establish the outcome (reported `unclear`). */
  unclear: z.boolean().optional(),
});
export type PendingToggle = z.infer<typeof PendingToggle>;

export const UserState = z.object({
  email: z.string(),
  /** The rank dirsync last set. */
  rank: Rank.optional(),
  /** Last value set or read, sorted. */
  computerUsernames: z.array(z.string()).optional(),
  /** Smart card numbers last set or read, sorted. */
  smartcards: z.array(z.string()).optional(),
  /** When the details above were last read from the API (the drift sweep). */
  verifiedAt: z.string().optional(),
  /** First complete read in which the user was absent from the directory. */
  missingSince: z.string().optional(),
  /** dirsync suspended this user; only then does it unsuspend. */
  suspendedByDirsync: z.boolean().optional(),
  /**
   * A toggle journaled as sent whose outcome is not established (the run died, or no answer came
   * and re-reads still showed `from`). No toggle is sent for this user until a read made at least
   * `api.settleMs` after `sentAt` tells whether it landed.
   */
  pendingToggle: PendingToggle.optional(),
});
export type UserState = z.infer<typeof UserState>;

/**
 * The organization a record belongs to, beyond its base URL (see `state/organization.ts`).
 * Never the token: the token is rotated, and it is a secret.
 */
export const OrganizationIdentity = z.object({
  /** `api.tokenOwner` when the record was last written, to name the organization. */
  tokenOwner: z.string().optional(),
  /** `[email_id, user_id]` of the organization's users with the smallest email_ids. */
  sample: z.array(z.tuple([z.number(), z.number()])),
});
export type OrganizationIdentity = z.infer<typeof OrganizationIdentity>;

export const StateRecord = z.object({
  version: z.literal(1),
  /** The API base URL the record belongs to: a record is never used against another organization. */
  apiBaseUrl: z.string().optional(),
  /** Which organization on that API (optional: records written before it was kept still load). */
  organization: OrganizationIdentity.optional(),
  lastCompleteRead: z.object({ at: z.string(), directoryUsers: z.number() }).optional(),
  /** Last drift sweep (every user's details read). */
  lastVerifyAt: z.string().optional(),
  users: z.record(z.string(), UserState),
  /**
   * What runs applied that budgets count (safety.window): one entry a run, by its start time,
   * pruned once older than the window.
   */
  spent: z.array(z.object({ at: z.string(), counts: z.record(z.string(), z.number()) })).optional(),
});
export type StateRecord = z.infer<typeof StateRecord>;

export function emptyState(apiBaseUrl?: string): StateRecord {
  return apiBaseUrl === undefined
    ? { version: 1, users: {} }
    : { version: 1, apiBaseUrl, users: {} };
}

/** The record without its users: checked by zod, the users by {@link plainUserState} first. */
const RecordHead = StateRecord.omit({ users: true });
const USER_KEYS = new Set<string>([
  'email',
  'rank',
  'computerUsernames',
  'smartcards',
  'verifiedAt',
  'missingSince',
  'suspendedByDirsync',
]);
const RANKS = new Set<unknown>(Rank.options);
const strings = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string');
const optional = (v: unknown, check: (v: unknown) => boolean): boolean =>
  v === undefined || check(v);
const isString = (v: unknown): boolean => typeof v === 'string';

/**
 * A user entry of the usual shape (no pending toggle, no key UserState does not have), which
 * `UserState` would return as it is: checked by plain code, since a record holds one per user
 * and zod took ~3 ms per 1,000 of them on every run. Anything else goes to zod.
 */
function plainUserState(u: unknown): boolean {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return false;
  const r = u as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!USER_KEYS.has(key)) return false;
  return (
    typeof r['email'] === 'string' &&
    optional(r['rank'], (v) => RANKS.has(v)) &&
    optional(r['computerUsernames'], strings) &&
    optional(r['smartcards'], strings) &&
    optional(r['verifiedAt'], isString) &&
    optional(r['missingSince'], isString) &&
    optional(r['suspendedByDirsync'], (v) => typeof v === 'boolean')
  );
}

/**
 * `StateRecord.safeParse(parsed).data` (undefined where it fails), for a record as JSON.parse
 * gives it (its objects are changed in place). Users of the usual shape are taken as they are,
 * the others (a pending toggle, an unknown key, a wrong value) are zod's to judge one by one, so
 * the result is the same either way.
 */
export function parseStateRecord(parsed: unknown): StateRecord | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { users, ...rest } = parsed as Record<string, unknown>;
  if (typeof users !== 'object' || users === null || Array.isArray(users)) return undefined;
  const head = RecordHead.safeParse(rest);
  if (!head.success) return undefined;
  const entries = users as Record<string, unknown>;
  for (const key of Object.keys(entries)) {
    if (plainUserState(entries[key])) continue;
    const user = UserState.safeParse(entries[key]);
    if (!user.success) return undefined;
    entries[key] = user.data;
  }
  return { ...head.data, users: entries as Record<string, UserState> };
}
