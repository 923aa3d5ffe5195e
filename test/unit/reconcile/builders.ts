/**
 * Test data for the planner and the safety rails: everything is built in memory, no mocks.
 * Every builder takes the fields a test cares about and fills the rest with quiet defaults.
 */
import type { z } from 'zod';
import { asEmailId, asUserId, type EmailId, type UserId } from '../../../src/api/ids.js';
import { RulesConfig, SafetyConfig } from '../../../src/config/schema.js';
import { normalizeDn } from '../../../src/directory/dn.js';
import type { DirectoryUser } from '../../../src/directory/model.js';
import {
  Action as ActionSchema,
  type Action,
  type ActionKind,
  type ActionOf,
  type OrgDetails,
  type OrgUser,
  type Plan,
} from '../../../src/reconcile/model.js';
import type { PlanInput } from '../../../src/reconcile/plan.js';
import type { StateRecord, UserState } from '../../../src/state/model.js';

export const DOMAIN = 'corp.example.com';
export const SUPER_GROUP = 'CN=IT-Owners,OU=Groups,DC=corp,DC=example,DC=com';
export const ADMIN_GROUP = 'CN=IT-Admins,OU=Groups,DC=corp,DC=example,DC=com';
export const SUSPEND_GROUP = 'CN=Leavers,OU=Groups,DC=corp,DC=example,DC=com';
export const STAFF_GROUP = 'CN=Staff,OU=Groups,DC=corp,DC=example,DC=com';

export const NOW = new Date('2025-03-10T12:00:00.000Z');
const DAY_MS = 86_400_000;

/** The ISO time `days` (fractions allowed) before NOW. */
export function daysAgo(days: number): string {
  return new Date(NOW.getTime() - days * DAY_MS).toISOString();
}

/**
 * A stable email_id per email (FNV-1a), so a test can key a state record by email without
 * threading ids around. user_id comes from another range, as in the API.
 */
export function emailIdOf(email: string): EmailId {
  let h = 0x811c9dc5;
  for (const c of email.trim().toLowerCase()) {
    h ^= c.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return asEmailId(1000 + (h % 900_000));
}

export function userIdOf(email: string): UserId {
  return asUserId(5_000_000 + emailIdOf(email));
}

/**
 * A directory user as a source hands it over: email and aliases lower-cased, groups as
 * normalized DNs (nested groups already resolved, so a nested group is just another DN here).
 */
export function aDirectoryUser(overrides: Partial<DirectoryUser> = {}): DirectoryUser {
  const email = (overrides.email ?? `joe@${DOMAIN}`).toLowerCase();
  const local = email.slice(0, email.indexOf('@'));
  return {
    id: `guid-${email}`,
    dn: `CN=${local},OU=Staff,DC=corp,DC=example,DC=com`,
    aliases: [],
    firstName: local,
    lastName: 'Example',
    logins: [local],
    smartcards: [],
    disabled: false,
    expired: false,
    ...overrides,
    email,
    groups: (overrides.groups ?? []).map(normalizeDn),
  };
}

/** An organization user as both listings give it. */
export function anOrgUser(overrides: Partial<OrgUser> = {}): OrgUser {
  const email = overrides.email ?? `joe@${DOMAIN}`;
  return {
    emailId: emailIdOf(email),
    userId: userIdOf(email),
    tag: 'USER',
    adStatus: 'ACTIVE',
    ...overrides,
    email,
  };
}

/** What the state record knows of a user. Only the fields given: no rank, no usernames. */
export function aUserState(overrides: Partial<UserState> = {}): UserState {
  return { email: `joe@${DOMAIN}`, ...overrides };
}

/** A record that vouches for exactly what the directory wants: a quiet user. */
export function aRecordInSyncWith(
  user: DirectoryUser,
  overrides: Partial<UserState> = {},
): UserState {
  return {
    email: user.email,
    rank: 'REGULAR',
    computerUsernames: [...user.logins].sort(),
    smartcards: [...user.smartcards].sort(),
    ...overrides,
  };
}

/** A state record; users are keyed by `emailIdOf(user.email)`. */
export function aStateRecord(
  options: {
    users?: UserState[];
    lastCompleteRead?: StateRecord['lastCompleteRead'];
    lastVerifyAt?: string;
  } = {},
): StateRecord {
  const state: StateRecord = {
    version: 1,
    users: Object.fromEntries((options.users ?? []).map((u) => [String(emailIdOf(u.email)), u])),
  };
  if (options.lastCompleteRead !== undefined) state.lastCompleteRead = options.lastCompleteRead;
  if (options.lastVerifyAt !== undefined) state.lastVerifyAt = options.lastVerifyAt;
  return state;
}

/** Rules as the config parser gives them: scope DOMAIN, one SUPER and one ADMIN group. */
export function someRules(overrides: Partial<z.input<typeof RulesConfig>> = {}): RulesConfig {
  return RulesConfig.parse({
    scope: { emailDomains: [DOMAIN] },
    ranks: { SUPER: [SUPER_GROUP], ADMIN: [ADMIN_GROUP] },
    ...overrides,
  });
}

export function someSafety(overrides: Partial<z.input<typeof SafetyConfig>> = {}): SafetyConfig {
  return SafetyConfig.parse(overrides);
}

/** `GET /user` details of this run, keyed by email. */
export function someDetails(
  byEmail: Record<string, Partial<OrgDetails>>,
): ReadonlyMap<number, OrgDetails> {
  return new Map(
    Object.entries(byEmail).map(([email, d]) => [
      emailIdOf(email),
      { computerUsernames: [], smartcards: [], ...d },
    ]),
  );
}

export function aPlanInput(overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    directory: [],
    organization: [],
    details: new Map(),
    state: aStateRecord(),
    rules: someRules(),
    protectedUsers: [],
    now: NOW,
    ...overrides,
  };
}

/**
 * One person on both sides, in sync: the directory user, the organization user and a record
 * that vouches for the directory's values. Override any side.
 */
export function aSyncedPerson(
  email: string,
  options: {
    dir?: Partial<DirectoryUser>;
    org?: Partial<OrgUser>;
    record?: Partial<UserState>;
  } = {},
): { dir: DirectoryUser; org: OrgUser; record: UserState } {
  const dir = aDirectoryUser({ ...options.dir, email });
  const org = anOrgUser({ ...options.org, email });
  return { dir, org, record: aRecordInSyncWith(dir, options.record) };
}

/** A plan input made of people (see `aSyncedPerson`), plus any other overrides. */
export function anInputOf(
  people: { dir?: DirectoryUser; org?: OrgUser; record?: UserState }[],
  overrides: Partial<PlanInput> = {},
): PlanInput {
  return aPlanInput({
    directory: people.flatMap((p) => (p.dir === undefined ? [] : [p.dir])),
    organization: people.flatMap((p) => (p.org === undefined ? [] : [p.org])),
    state: aStateRecord({
      users: people.flatMap((p) => (p.record === undefined ? [] : [p.record])),
    }),
    ...overrides,
  });
}

/** The actions of a plan as `kind email` lines: compact to compare in tables. */
export function kindsOf(plan: Plan, email?: string): string[] {
  return plan.actions
    .filter((a) => email === undefined || a.email === email)
    .map((a) => (email === undefined ? `${a.kind} ${a.email}` : a.kind));
}

export function actionOf<K extends ActionKind>(
  plan: Plan,
  kind: K,
  email?: string,
): ActionOf<K> | undefined {
  return plan.actions.find(
    (a): a is ActionOf<K> => a.kind === kind && (email === undefined || a.email === email),
  );
}

/** Each kind's before/after when a test does not care: the plan's usual values. */
const DEFAULT_CHANGE: { [K in ActionKind]: Pick<ActionOf<K>, 'before' | 'after'> } = {
  promote_guest: { before: 'GUEST', after: 'USER' },
  unsuspend: { before: 'SUSPENDED', after: 'ACTIVE' },
  set_computer_usernames: { before: null, after: [] },
  set_smartcards: { before: null, after: [] },
  set_rank: { before: null, after: 'REGULAR' },
  suspend: { before: 'ACTIVE', after: 'SUSPENDED' },
  remove: { before: 'ACTIVE', after: null },
};

/**
 * An action of one kind for `joe@` (or `email`): ids from the email, the kind's usual values,
 * set_rank's user_id, set_smartcards' cards from `after` (no labels).
 */
export function anAction<K extends ActionKind>(
  overrides: Partial<Omit<ActionOf<K>, 'kind'>> & { kind: K },
): ActionOf<K> {
  const email = overrides.email ?? `joe@${DOMAIN}`;
  const action = parseAction({
    emailId: emailIdOf(email),
    reason: 'test',
    ...DEFAULT_CHANGE[overrides.kind],
    ...(overrides.kind === 'set_rank' ? { userId: userIdOf(email) } : {}),
    ...overrides,
    email,
  } as ActionInput);
  if (action.kind !== overrides.kind) throw new Error(`not a ${overrides.kind} action`);
  // The kind was just checked: TypeScript cannot follow K through the spread.
  return action as ActionOf<K>;
}

type Loosen<A> = A extends { kind: 'set_smartcards'; cards: infer C }
  ? Omit<A, 'cards'> & { cards?: C }
  : A;

/** An action as a test writes it: ids as plain numbers, set_smartcards' `cards` optional. */
export type ActionInput = Loosen<z.input<typeof ActionSchema>>;

/**
 * An action through the plan's own schema (ids branded, values checked); set_smartcards' cards
 * default to `after`'s numbers without labels.
 */
export function parseAction(input: ActionInput): Action {
  return ActionSchema.parse(
    input.kind === 'set_smartcards' && input.cards === undefined
      ? { ...input, cards: input.after.map((number) => ({ number, label: '' })) }
      : input,
  );
}

/** `n` actions of one kind for n different users (`user0@`, `user1@`, ...). */
export function someActions<K extends ActionKind>(
  n: number,
  kind: K,
  fields: Partial<Omit<ActionOf<K>, 'kind'>> = {},
  prefix = 'user',
): ActionOf<K>[] {
  return Array.from({ length: n }, (_, i) =>
    anAction<K>({ ...fields, kind, email: `${prefix}${i}@${DOMAIN}` }),
  );
}

/** A plan value for the rails: the summary defaults to 100 directory and 100 managed users. */
export function aPlan(
  options: { actions?: Action[]; summary?: Partial<Plan['summary']> } = {},
): Plan {
  const actions = options.actions ?? [];
  const counts: Plan['summary']['actions'] = {};
  for (const a of actions) counts[a.kind] = (counts[a.kind] ?? 0) + 1;
  return {
    formatVersion: 1,
    createdAt: NOW.toISOString(),
    actions,
    notInOrganization: [],
    ambiguous: [],
    notes: [],
    timers: { started: {}, cleared: [] },
    summary: {
      directoryUsers: 100,
      organizationUsers: 100,
      managedUsers: 100,
      matched: 100,
      actions: counts,
      ...options.summary,
    },
  };
}
