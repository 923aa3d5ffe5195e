import type { EmailId } from '../api/ids.js';
import type { RulesConfig } from '../config/schema.js';
import { cardProblem, loginProblem } from '../directory/build.js';
import { unresolvedMessage } from '../directory/groups.js';
import {
  isKnown,
  type DirectoryUser,
  type UnresolvedMembers,
  type UnusableEntry,
  type ValueProblem,
} from '../directory/model.js';
import type { StateRecord, UserState } from '../state/model.js';
import { matchUsers, type MatchResult } from './match.js';
import { desiredRank, groupHit, guestLeftAlone, RANK_LEVEL, suspensionCause } from './rules.js';
import { compileScope } from './scope.js';
import {
  ACTION_ORDER,
  type Action,
  type ActionKind,
  type Note,
  type OrgDetails,
  type OrgUser,
  type Plan,
  type PlanProblem,
} from './model.js';

/** Everything the planner needs, already read. The planner does no I/O. */
export interface PlanInput {
  directory: readonly DirectoryUser[];
  organization: readonly OrgUser[];
  /** `GET /user` results of this run, by emailId. */
  details: ReadonlyMap<number, OrgDetails>;
  state: StateRecord;
  rules: RulesConfig;
  /** Emails never demoted, suspended or removed (config list plus the token's own user). */
  protectedUsers: readonly string[];
  now: Date;
  /** `matchUsers(directory, organization)`, when the caller has it already (it is O(users)). */
  match?: MatchResult;
  /** Directory entries skipped for want of a usable address (`DirectorySnapshot.unusable`). */
  unusable?: readonly UnusableEntry[];
  /** Rule groups' member values that name no user read (`DirectorySnapshot.unresolvedMembers`). */
  unresolvedMembers?: readonly UnresolvedMembers[];
}

const DAY_MS = 86_400_000;

function compareEmails(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

const sorted = (xs: readonly string[]): string[] => [...xs].sort();
/** Same members, order aside. Run for every user: no copy for the usual zero or one value. */
const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  if (a.length !== b.length) return false;
  if (a.length === 0) return true;
  if (a.length === 1) return a[0] === b[0];
  const x = sorted(a);
  const y = sorted(b);
  return x.every((v, i) => v === y[i]);
};

/** Whether the drift sweep is due: every `verifyEveryMs` all details are read again. */
export function sweepDue(state: StateRecord, now: Date, verifyEveryMs: number): boolean {
  if (state.lastVerifyAt === undefined) return true;
  return now.getTime() - Date.parse(state.lastVerifyAt) >= verifyEveryMs;
}

/**
 * The users whose details (`GET /user`) must be read before planning: where the state record
 * cannot vouch for the current computer usernames or smart cards, or everyone in scope when
 * the drift sweep is due. Nothing when neither is managed.
 */
export function detailReadsNeeded(
  input: Omit<PlanInput, 'details'>,
  options: { sweep: boolean },
): EmailId[] {
  const { rules, state } = input;
  const wantUsernames = rules.computerUsernames === 'manage';
  const wantCards = rules.smartcards === 'manage';
  if (!wantUsernames && !wantCards) return [];
  const { matches, ambiguousIds } = input.match ?? matchUsers(input.directory, input.organization);
  const scope = compileScope(rules.scope);
  const out: EmailId[] = [];
  for (const org of input.organization) {
    const dir = matches.get(org.emailId);
    if (!scope.includes(org.email) || ambiguousIds.has(org.emailId) || dir === undefined) continue;
    // A guest the plan leaves a guest gets no other action either: nothing of theirs to read.
    if (
      org.tag === 'GUEST' &&
      guestLeftAlone(dir, rules, suspensionCause(dir, rules)) !== undefined
    )
      continue;
    const record = state.users[String(org.emailId)];
    const unknown =
      (wantUsernames && record?.computerUsernames === undefined) ||
      (wantCards && record?.smartcards === undefined);
    // /modifysmartcard replaces the whole list and the record keeps numbers only: read the
    // labels of a user whose cards are about to change, so the cards kept keep their label.
    const cardsChange =
      wantCards &&
      record?.smartcards !== undefined &&
      isKnown(dir, 'smartcards') &&
      !sameSet(record.smartcards, dir.smartcards);
    if (options.sweep || unknown || cardsChange) out.push(org.emailId);
  }
  return out;
}

interface UserContext {
  org: OrgUser;
  record: UserState | undefined;
  isProtected: boolean;
  actions: Action[];
  notes: Note[];
}

/** An action as the rules decide it: the user's email and ids are the context's. */
type Decided = Action extends infer A
  ? A extends Action
    ? Omit<A, 'email' | 'emailId' | 'userId'>
    : never
  : never;

function add(ctx: UserContext, decided: Decided): void {
  const { email, emailId } = ctx.org;
  ctx.actions.push(
    decided.kind === 'set_rank'
      ? { ...decided, email, emailId, userId: ctx.org.userId }
      : { ...decided, email, emailId },
  );
}

function note(ctx: UserContext, message: string): void {
  ctx.notes.push({ email: ctx.org.email, message });
}

/**
 * The plan: a pure function of the directory snapshot, the organization, the state record and
 * the rules. Sorted by email, and per user promote and unsuspend first, removals last.
 */
export function plan(input: PlanInput): Plan {
  const { rules, state, now } = input;
  const protectedSet = new Set(input.protectedUsers.map((e) => e.trim().toLowerCase()));
  const { matches, ambiguous, ambiguousIds, unmatched } =
    input.match ?? matchUsers(input.directory, input.organization);
  const actions: Action[] = [];
  const notes: Note[] = (input.unresolvedMembers ?? []).map((u) => ({
    email: '',
    group: u.group,
    message: unresolvedMessage(u),
  }));
  const problems: PlanProblem[] = [];
  const timers: Plan['timers'] = { started: {}, cleared: [] };
  const unreadable = unreadableAddresses(input, unmatched);
  const scope = compileScope(rules.scope);
  let managed = 0;
  let matched = 0;

  for (const org of input.organization) {
    if (!scope.includes(org.email)) continue;
    managed++;
    if (ambiguousIds.has(org.emailId)) {
      // Present in the directory (more than once): not absent, so no removal timer runs.
      if (state.users[String(org.emailId)]?.missingSince !== undefined)
        timers.cleared.push(org.emailId);
      continue;
    }
    const ctx: UserContext = {
      org,
      record: state.users[String(org.emailId)],
      isProtected: protectedSet.has(org.email.trim().toLowerCase()),
      actions,
      notes,
    };
    const dir = matches.get(org.emailId);
    if (dir === undefined) {
      const entry = unreadable.get(org.email.trim().toLowerCase());
      if (entry === undefined) planAbsent(ctx, input, timers);
      else planUnreadable(ctx, entry, timers);
      continue;
    }
    matched++;
    if (ctx.record?.missingSince !== undefined) timers.cleared.push(org.emailId);
    for (const p of dir.problems ?? []) problems.push(planProblem(org.email, dir.dn, p));
    planPresent(ctx, dir, input);
  }
  for (const u of unmatched) {
    if (u.problems !== undefined && scope.includes(u.email))
      for (const p of u.problems) problems.push(planProblem(u.email, u.dn, p));
  }
  for (const entry of input.unusable ?? [])
    for (const p of entry.problems) problems.push(planProblem(null, entry.dn, p));
  problems.sort(
    (a, b) =>
      compareEmails(a.email ?? '', b.email ?? '') || (a.dn < b.dn ? -1 : a.dn > b.dn ? 1 : 0),
  );

  actions.sort(
    (a, b) =>
      compareEmails(a.email, b.email) ||
      ACTION_ORDER.indexOf(a.kind) - ACTION_ORDER.indexOf(b.kind),
  );
  const counts: Partial<Record<ActionKind, number>> = {};
  for (const a of actions) counts[a.kind] = (counts[a.kind] ?? 0) + 1;

  return {
    formatVersion: 1,
    createdAt: now.toISOString(),
    actions,
    notInOrganization: unmatched
      .filter((u) => scope.includes(u.email))
      .map((u) => ({ email: u.email, dn: u.dn }))
      .sort((a, b) => compareEmails(a.email, b.email)),
    ambiguous,
    notes,
    problems,
    timers,
    summary: {
      directoryUsers: input.directory.length,
      organizationUsers: input.organization.length,
      managedUsers: managed,
      matched,
      actions: counts,
    },
  };
}

function planPresent(ctx: UserContext, dir: DirectoryUser, input: PlanInput): void {
  const { rules } = input;
  const org = ctx.org;
  const suspendCause = suspensionCause(dir, rules);

  if (org.tag === 'GUEST') {
    const left = guestLeftAlone(dir, rules, suspendCause);
    if (left !== undefined) {
      if (left !== '') note(ctx, left);
      return;
    }
    const group =
      rules.promoteGuests.groups.length === 0
        ? undefined
        : groupHit(dir, rules.promoteGuests.groups);
    add(ctx, {
      kind: 'promote_guest',
      reason:
        group === undefined ? `guest found in the directory (${dir.dn})` : `guest in ${group}`,
      before: 'GUEST',
      after: 'USER',
    });
  }

  // Suspension follows the directory; dirsync only lifts suspensions it made itself.
  if (suspendCause !== undefined) {
    if (org.adStatus === 'ACTIVE') {
      if (ctx.isProtected) note(ctx, `protected user not suspended although ${suspendCause}`);
      else
        add(ctx, { kind: 'suspend', reason: suspendCause, before: 'ACTIVE', after: 'SUSPENDED' });
    } else if (org.adStatus === 'PENDING') {
      note(
        ctx,
        `cannot be suspended while PENDING (no device activated yet), although ${suspendCause}`,
      );
    }
  } else if (org.adStatus === 'SUSPENDED') {
    if (ctx.record?.suspendedByDirsync === true) {
      add(ctx, {
        kind: 'unsuspend',
        reason:
          ctx.record.missingSince !== undefined
            ? 'back in the directory'
            : 'enabled again in the directory',
        before: 'SUSPENDED',
        after: 'ACTIVE',
      });
    } else {
      note(ctx, 'suspended in the organization but not by dirsync: left suspended');
    }
  }

  const details = input.details.get(org.emailId);
  if (rules.computerUsernames === 'manage' && !isKnown(dir, 'logins')) {
    noteUnknown(ctx, dir, 'logins', 'computer usernames');
  } else if (rules.computerUsernames === 'manage') {
    const current = details?.computerUsernames ?? ctx.record?.computerUsernames;
    if (current === undefined || !sameSet(current, dir.logins)) {
      add(ctx, {
        kind: 'set_computer_usernames',
        reason: `login names from the directory (${dir.dn})`,
        before: current === undefined ? null : sorted(current),
        after: sorted(dir.logins),
      });
    }
  }
  if (rules.smartcards === 'manage' && !isKnown(dir, 'smartcards')) {
    noteUnknown(ctx, dir, 'smartcards', 'smart cards');
  } else if (rules.smartcards === 'manage') {
    const current = details?.smartcards.map((c) => c.number) ?? ctx.record?.smartcards;
    if (current === undefined || !sameSet(current, dir.smartcards)) {
      const labels = new Map(details?.smartcards.map((c) => [c.number, c.label]));
      const after = sorted(dir.smartcards);
      add(ctx, {
        kind: 'set_smartcards',
        reason: `smart card numbers from the directory (${dir.dn})`,
        before: current === undefined ? null : sorted(current),
        after,
        cards: after.map((number) => ({ number, label: labels.get(number) ?? '' })),
      });
    }
  }

  if (rules.ranks.manage) {
    const { rank, why } = desiredRank(dir, rules);
    const known = ctx.record?.rank;
    if (known !== rank) {
      const demotes = known === undefined ? rank !== 'SUPER' : RANK_LEVEL[rank] < RANK_LEVEL[known];
      if (ctx.isProtected && demotes) {
        note(ctx, `protected user: rank not set to ${rank} (${why})`);
      } else {
        add(ctx, {
          kind: 'set_rank',
          reason: known === undefined ? `${why}; no rank on record yet` : why,
          before: known ?? null,
          after: rank,
        });
      }
    }
  }
}

/**
 * A value the directory holds but dirsync cannot use is unknown, never empty: the
 * organization's value stays, and the note says which value and where.
 */
function noteUnknown(
  ctx: UserContext,
  dir: DirectoryUser,
  field: 'logins' | 'smartcards',
  what: string,
): void {
  for (const p of dir.problems ?? []) {
    if (p.field !== field) continue;
    const value = p.value === '' ? p.attribute : `${p.attribute} value "${p.value}"`;
    note(ctx, `${what} left as they are: ${value} of ${dir.dn} ${p.problem}`);
  }
}

function planProblem(email: string | null, dn: string, p: ValueProblem): PlanProblem {
  return { email, dn, field: p.field, attribute: p.attribute, value: p.value, problem: p.problem };
}

/** An entry whose unusable address looks like an organization user's, and the problem. */
interface Unreadable {
  dn: string;
  problem: ValueProblem;
}

/**
 * Organization addresses that a directory entry probably holds in a form dirsync cannot use
 * (`joe @corp.example.com`): entries skipped for want of a usable address, and directory users
 * matched to nobody. Keyed by the address the value resembles.
 */
function unreadableAddresses(
  input: PlanInput,
  unmatched: readonly DirectoryUser[],
): Map<string, Unreadable> {
  const out = new Map<string, Unreadable>();
  const add = (dn: string, problems: readonly ValueProblem[] | undefined): void => {
    for (const problem of problems ?? [])
      if (problem.resembles !== undefined && !out.has(problem.resembles))
        out.set(problem.resembles, { dn, problem });
  };
  for (const entry of input.unusable ?? []) add(entry.dn, entry.problems);
  for (const u of unmatched) add(u.dn, u.problems);
  return out;
}

/**
 * Not matched, but a directory entry holds this address in a form dirsync cannot use: the person
 * is probably there. Unreadable is not absent: no suspension, no removal, and the removal timer
 * stops, as for a user in the directory.
 */
function planUnreadable(ctx: UserContext, entry: Unreadable, timers: Plan['timers']): void {
  if (ctx.record?.missingSince !== undefined) timers.cleared.push(ctx.org.emailId);
  if (ctx.org.tag === 'GUEST') return;
  const p = entry.problem;
  note(
    ctx,
    `not matched, but left alone as if in the directory: ${p.attribute} value "${p.value}" of ${entry.dn} ${p.problem} and looks like this address; fix the entry`,
  );
}

function planAbsent(ctx: UserContext, input: PlanInput, timers: Plan['timers']): void {
  const { rules, now } = input;
  const org = ctx.org;
  if (rules.removed.action === 'ignore') return;
  if (org.tag === 'GUEST') return; // guests are outside the directory by nature
  if (ctx.isProtected) {
    note(ctx, 'not in the directory, but protected: left alone');
    return;
  }
  const since = ctx.record?.missingSince ?? now.toISOString();
  if (ctx.record?.missingSince === undefined) timers.started[String(org.emailId)] = since;
  const days = (now.getTime() - Date.parse(since)) / DAY_MS;
  const graceOver = rules.removed.action === 'delete' && days >= rules.removed.graceDays;
  if (graceOver) {
    add(ctx, {
      kind: 'remove',
      reason:
        rules.removed.graceDays === 0
          ? 'not in the directory (graceDays 0)'
          : `not in the directory since ${since} (${Math.floor(days)} days, graceDays ${rules.removed.graceDays})`,
      before: org.adStatus,
      after: null,
    });
  } else if (org.adStatus === 'ACTIVE') {
    add(ctx, {
      kind: 'suspend',
      reason:
        rules.removed.action === 'delete'
          ? `not in the directory since ${since}: suspended until removal after ${rules.removed.graceDays} days`
          : `not in the directory since ${since} (removed.action suspend)`,
      before: 'ACTIVE',
      after: 'SUSPENDED',
    });
  } else if (org.adStatus === 'PENDING') {
    note(ctx, 'not in the directory, and cannot be suspended while PENDING');
  }
}

/**
 * Why a set_computer_usernames or set_smartcards action carries a value the API must never get
 * (a login with a space or a control character, a card that is not digits), or undefined. The
 * planner never makes one; a plan file edited by hand can hold one, and apply refuses it.
 */
export function unsendableValue(action: Action): string | undefined {
  const bad = (
    values: readonly string[],
    problem: (v: string) => string | undefined,
    what: string,
  ): string | undefined => {
    for (const v of values) {
      const why = problem(v);
      if (why !== undefined) return `holds the ${what} ${JSON.stringify(v)}, which ${why}`;
    }
    return undefined;
  };
  switch (action.kind) {
    case 'set_computer_usernames':
      // An empty name is only refused by the API (a 400), like any value it does not accept.
      return bad(
        action.after,
        (v) => (v.trim() === '' ? undefined : loginProblem(v.trim())),
        'login name',
      );
    case 'set_smartcards':
      return bad(
        action.cards.map((c) => c.number),
        (v) => cardProblem(v.trim()),
        'card number',
      );
    default:
      return undefined;
  }
}
