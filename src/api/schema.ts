import { z } from 'zod';
import { asEmailId, asUserId, type EmailId, type UserId } from './ids.js';

// Response schemas of the Users API. Permissive on purpose: they declare only the fields dirsync
// uses and let everything else through, so a field the service adds tomorrow breaks nothing.

export const Rank = z.enum(['SUPER', 'ADMIN', 'REGULAR']);
export type Rank = z.infer<typeof Rank>;

export const UserTag = z.enum(['USER', 'GUEST']);
export type UserTag = z.infer<typeof UserTag>;

/**
 * Authentication-device status (contract note 7). Kept strict: suspension decisions hang on it,
 * and a value we do not know is better refused than guessed.
 */
export const AdStatus = z.enum(['PENDING', 'ACTIVE', 'SUSPENDED']);
export type AdStatus = z.infer<typeof AdStatus>;

/** The statuses `/togglesuspension` moves a user between (a PENDING user cannot be toggled). */
export const ToggleStatus = AdStatus.exclude(['PENDING']);
export type ToggleStatus = z.infer<typeof ToggleStatus>;

const optionalText = z
  .string()
  .nullish()
  .transform((v) => v ?? '');

/** `groups` reads `[["Employees"]]` in the reference; plain strings are accepted as well. */
const nameList = z
  .array(z.union([z.string(), z.array(z.string())]))
  .nullish()
  .transform((v) => (v ?? []).flat());

/** One element of `GET /multipleusers`, as the service sends it. */
export const ListedUser = z.object({
  email_id: z.number().int().positive(),
  user_id: z.number().int().positive(),
  email: z.string(),
  first_name: optionalText,
  last_name: optionalText,
  name: optionalText,
  username: optionalText,
  ad_status: AdStatus,
  groups: nameList,
});

/** A user of the organization as dirsync holds it: only what the planner needs, ids branded. */
export interface OrgUser {
  emailId: EmailId;
  userId: UserId;
  email: string;
  firstName: string;
  lastName: string;
  /** `First Last`, or `First Last (email)` when listed with `emailInName`. */
  name: string;
  username: string;
  adStatus: AdStatus;
  /** Which listing the user came from: `/multipleusers` lists USER and GUEST separately. */
  tag: UserTag;
  groups: string[];
}

export const Smartcard = z.object({
  // Digits as a string in the contract; a number is taken too rather than failing a whole read.
  number: z.union([z.string(), z.number()]).transform(String),
  label: optionalText,
});
export type Smartcard = z.infer<typeof Smartcard>;

/** `GET /user`. */
export const UserDetailsBody = z.object({
  policies: nameList,
  computer_usernames: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  smartcards: z
    .array(Smartcard)
    .nullish()
    .transform((v) => v ?? []),
});

export interface UserDetails {
  policies: string[];
  computerUsernames: string[];
  smartcards: Smartcard[];
}

/** `GET /modifysmartcard`. */
export const SmartcardsBody = z.object({ smartcards: z.array(Smartcard) });

/** The failure shape of every endpoint; a 2xx carrying it is a failure too (contract note 5). */
export const ErrorBody = z.object({ error: z.unknown() });

/** Thrown by {@link parseListing} and `ListingDecoder`; the client wraps it into an `ApiError`. */
export class ListingFormatError extends Error {}

const AD_STATUSES: ReadonlySet<unknown> = new Set(AdStatus.options);

const isPositiveInt = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isOptionalString = (v: unknown): v is string | null | undefined =>
  v === undefined || v === null || typeof v === 'string';

function flatNames(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const item of v as unknown[]) {
    if (typeof item === 'string') out.push(item);
    else if (Array.isArray(item)) {
      for (const inner of item as unknown[]) {
        if (typeof inner !== 'string') return undefined;
        out.push(inner);
      }
    } else return undefined;
  }
  return out;
}

/**
 * Reads a `/multipleusers` body (already through JSON.parse) into {@link OrgUser}s. The client
 * streams the listing through `ListingDecoder` instead; this stays for a body already parsed.
 */
export function parseListing(raw: unknown, tag: UserTag): OrgUser[] {
  if (!Array.isArray(raw)) throw new ListingFormatError(NOT_AN_ARRAY);
  const items = raw as unknown[];
  const users: OrgUser[] = new Array<OrgUser>(items.length);
  for (let i = 0; i < items.length; i++) users[i] = toOrgUser(items[i], i, tag);
  return users;
}

export const NOT_AN_ARRAY = 'the body is not a JSON array of users';

/**
 * Checks one element of a listing and copies the fields we keep; `index` is its place in the
 * whole listing, for the message.
 *
 * Why not `ListedUser.parse(item)`: at 100k users the zod pass costs about as much again as
 * JSON.parse itself. This is one hand-written check of exactly what {@link ListedUser} checks
 * that copies only the fields we keep, so the raw object (with its timestamps and ids we never
 * read) can be collected right away. An element the fast check refuses is re-checked with the
 * zod schema, which then names the field that is wrong.
 */
export function toOrgUser(item: unknown, index: number, tag: UserTag): OrgUser {
  const u = item as Record<string, unknown> | null;
  const groups = typeof u === 'object' && u !== null ? flatNames(u['groups']) : undefined;
  if (
    groups === undefined ||
    u === null ||
    Array.isArray(u) ||
    !isPositiveInt(u['email_id']) ||
    !isPositiveInt(u['user_id']) ||
    typeof u['email'] !== 'string' ||
    !AD_STATUSES.has(u['ad_status']) ||
    !isOptionalString(u['first_name']) ||
    !isOptionalString(u['last_name']) ||
    !isOptionalString(u['name']) ||
    !isOptionalString(u['username'])
  ) {
    throw new ListingFormatError(describeBadUser(item, index));
  }
  return {
    emailId: asEmailId(u['email_id']),
    userId: asUserId(u['user_id']),
    email: u['email'],
    firstName: u['first_name'] ?? '',
    lastName: u['last_name'] ?? '',
    name: u['name'] ?? '',
    username: u['username'] ?? '',
    adStatus: u['ad_status'] as AdStatus,
    tag,
    groups,
  };
}

function describeBadUser(item: unknown, index: number): string {
  const result = ListedUser.safeParse(item);
  const issue = result.success ? undefined : result.error.issues[0];
  if (issue === undefined) return `user [${index}] is not a valid user object`;
  const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`));
  return `user [${index}]${where.join('')}: ${issue.message}`;
}
