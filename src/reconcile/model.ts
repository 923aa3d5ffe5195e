/**
 * The plan: a value, sorted and serialisable, each action with its reason and the before/after
 * it changes. Dry run is "plan and stop"; apply executes exactly these actions.
 *
 * The zod schemas here are the plan's one definition: the types are inferred from them, and a
 * plan file (`plan --out`, `plans/held-*.json`) is checked against them when it is read back.
 */

import { z } from 'zod';
import { asEmailId, asUserId } from '../api/ids.js';
import { AdStatus, Rank, type OrgUser as ListedUser } from '../api/schema.js';
import type { ValueField } from '../directory/model.js';
import { OrganizationIdentity } from '../state/model.js';

export { AdStatus, Rank } from '../api/schema.js';

/** An organization user as the planner sees it (both listings): the fields it reads. */
export type OrgUser = Pick<ListedUser, 'emailId' | 'userId' | 'email' | 'tag' | 'adStatus'>;

/** The order of one user's actions: promote and unsuspend first, removals last. */
export const ACTION_ORDER = [
  'promote_guest',
  'unsuspend',
  'set_computer_usernames',
  'set_smartcards',
  'set_rank',
  'suspend',
  'remove',
] as const;

export type ActionKind = (typeof ACTION_ORDER)[number];

const EmailIdField = z.number().int().positive().transform(asEmailId);
const UserIdField = z.number().int().positive().transform(asUserId);

/** What every action carries: who, and the rule behind it. */
const actionBase = {
  email: z.string(),
  emailId: EmailIdField,
  /** The rule and the group or attribute behind it. */
  reason: z.string(),
};

const Names = z.array(z.string());

/** A smart card as `/modifysmartcard` takes it. */
export const Card = z.object({ number: z.string(), label: z.string() });
export type Card = z.infer<typeof Card>;

export const PromoteGuest = z.object({
  kind: z.literal('promote_guest'),
  ...actionBase,
  before: z.literal('GUEST'),
  after: z.literal('USER'),
});
export const Unsuspend = z.object({
  kind: z.literal('unsuspend'),
  ...actionBase,
  before: z.literal('SUSPENDED'),
  after: z.literal('ACTIVE'),
});
export const Suspend = z.object({
  kind: z.literal('suspend'),
  ...actionBase,
  before: z.literal('ACTIVE'),
  after: z.literal('SUSPENDED'),
});
export const SetComputerUsernames = z.object({
  kind: z.literal('set_computer_usernames'),
  ...actionBase,
  /** Sorted; null when neither the record nor a read this run knew them. */
  before: Names.nullable(),
  after: Names,
});
export const SetSmartcards = z
  .object({
    kind: z.literal('set_smartcards'),
    ...actionBase,
    /** Card numbers, sorted; null when unknown. */
    before: Names.nullable(),
    /** Card numbers, sorted: what the rule compares. */
    after: Names,
    /** The cards to send: `after`'s numbers, labels kept from the organization where known. */
    cards: z.array(Card),
  })
  .refine(
    (a) => a.cards.length === a.after.length && a.cards.every((c, i) => c.number === a.after[i]),
    { message: "the cards' numbers differ from after", path: ['cards'] },
  );
export const SetRank = z.object({
  kind: z.literal('set_rank'),
  ...actionBase,
  /** /modifyrank takes the user_id. */
  userId: UserIdField,
  /** The rank dirsync last set; null when the record has none. */
  before: Rank.nullable(),
  after: Rank,
});
export const Remove = z.object({
  kind: z.literal('remove'),
  ...actionBase,
  /** The user's status when planned. */
  before: AdStatus,
  after: z.null(),
});

/** One change to one user: a discriminated union by `kind`, each with its own before/after. */
export const Action = z.discriminatedUnion('kind', [
  PromoteGuest,
  Unsuspend,
  SetComputerUsernames,
  SetSmartcards,
  SetRank,
  Suspend,
  Remove,
]);
export type Action = z.infer<typeof Action>;

/** The action of one kind. */
export type ActionOf<K extends ActionKind> = Extract<Action, { kind: K }>;

/** Current values from `GET /user`, for the users whose details were read this run. */
export interface OrgDetails {
  computerUsernames: string[];
  smartcards: Card[];
}

export const Note = z.object({
  /** The user it concerns; '' for a note about a group (`group`). */
  email: z.string(),
  message: z.string(),
  /** A note about a group the rules name (member values that resolve to nobody): its DN. */
  group: z.string().optional(),
});
export type Note = z.infer<typeof Note>;

/**
 * A directory value dirsync cannot use. The field it feeds is unknown for that user: logins
 * and smart cards are left as the organization has them; an address cannot match anyone.
 */
export const PlanProblem = z.object({
  /** The organization user it concerns, else the directory's address; null when none is usable. */
  email: z.string().nullable(),
  dn: z.string(),
  field: z.enum(['email', 'aliases', 'logins', 'smartcards']) satisfies z.ZodType<ValueField>,
  /** The directory attribute (employeeNumber, sAMAccountName, mail). */
  attribute: z.string(),
  /** The value, control characters escaped, cut at 80 characters; '' for a partial read. */
  value: z.string(),
  /** What is wrong with it. */
  problem: z.string(),
});
export type PlanProblem = z.infer<typeof PlanProblem>;

const Count = z.number().int().nonnegative();

export const PlanSummary = z.object({
  directoryUsers: Count,
  organizationUsers: Count,
  /** In-scope organization users: the ones dirsync may change. */
  managedUsers: Count,
  matched: Count,
  actions: z.partialRecord(z.enum(ACTION_ORDER), Count),
});
export type PlanSummary = z.infer<typeof PlanSummary>;

/**
 * The API and the organization a plan was read from, so that `apply --plan` never sends it to
 * another one. The organization is named the way a state record names it
 * (`state/organization.ts`), from the listing the plan was made from: a sample of
 * (email_id, user_id) pairs, and `api.tokenOwner` to name it. Never the token.
 */
export const PlanOrigin = z.object({
  /** `api.baseUrl` as `recordedBaseUrl` writes it: no user name, password, query or fragment. */
  apiBaseUrl: z.string(),
  organization: OrganizationIdentity,
});
export type PlanOrigin = z.infer<typeof PlanOrigin>;

export const Plan = z.object({
  formatVersion: z.literal(1),
  createdAt: z.string(),
  /** Where the plan was read from; absent from plans made before it was recorded. */
  madeFor: PlanOrigin.optional(),
  actions: z.array(Action),
  /** Directory users in scope with no organization user: this API cannot create them. */
  notInOrganization: z.array(z.object({ email: z.string(), dn: z.string() })),
  /** Emails that several directory users claim: their organization user is left alone. */
  ambiguous: z.array(z.object({ email: z.string(), dns: z.array(z.string()) })),
  /** Things the rules wanted that the plan does not do, and why. */
  notes: z.array(Note),
  /**
   * Directory values dirsync cannot use, for the users in scope and the entries it had to skip
   * (sorted by email, then DN). Absent from plans saved before it existed.
   */
  problems: z.array(PlanProblem).optional(),
  /** Removal timers: started this run (emailId -> since) and cleared (user back). */
  timers: z.object({
    started: z.record(z.string(), z.string()),
    cleared: z.array(EmailIdField),
  }),
  summary: PlanSummary,
});
export type Plan = z.infer<typeof Plan>;
