import type { UsersApi } from '../api/users-api.js';
import { ApiError, DirsyncError, describeError } from '../errors.js';
import { createSilentLogger, type Logger } from '../log.js';
import type { StatePatch } from '../state/store.js';
import type { Action, ActionKind, ActionOf, OrgUser, Plan, Rank } from './model.js';
import { unsendableValue } from './plan.js';

/**
 * `unclear`: a toggle sent with no answer back, whose change a fresh re-read does not show. It is
 * not sent again this run (it may still land); the next run verifies it first.
 */
export type Outcome = 'applied' | 'unchanged' | 'failed' | 'skipped' | 'unclear';

export interface ActionResult {
  action: Action;
  outcome: Outcome;
  error?: string;
}

/** Where outcomes are journaled the moment they land (the state store in production). */
export interface Journal {
  record(patch: StatePatch): void;
}

export interface ApplyOptions {
  api: UsersApi;
  journal: Journal;
  logger?: Logger;
  /** Users worked on at once; the client bounds requests in flight on its own. */
  concurrency?: number;
  /**
   * For a reviewed plan (`apply --plan`): the organization as it is now, so that actions whose
   * target changed since the plan was made are skipped, not applied blindly.
   */
  currentOrganization?: ReadonlyMap<number, OrgUser>;
  /**
   * For a reviewed plan: the `actionKey`s of the plan made from today's read. A reviewed action
   * today's read no longer calls for (a user back in the directory, an id now held by someone
   * else) is skipped, never applied on the strength of an old read.
   */
  currentlyWanted?: ReadonlySet<string>;
  /** For a reviewed plan: the rank on record now, by emailId. */
  currentRanks?: ReadonlyMap<number, Rank | undefined>;
  /** Called after each action, for progress and metrics. */
  onResult?: (result: ActionResult) => void;
  /** Set to stop starting new actions (SIGTERM): in-flight ones finish and are journaled. */
  signal?: AbortSignal;
  /** For the toggle journal's times and the age of the status read; `new Date()` by default. */
  clock?: () => Date;
  /**
   * A toggle is decided on a listing read during this apply, shared by every toggle; read again
   * once older than this (a long apply). Default 60 s.
   */
  statusMaxAgeMs?: number;
}

export interface ApplyReport {
  results: ActionResult[];
  counts: Partial<Record<ActionKind, Partial<Record<Outcome, number>>>>;
  failed: number;
  /** Toggles whose outcome could not be established (see {@link Outcome}). */
  unclear: number;
  /** Why the apply stopped sending (the token was refused: 401, or 403 on a write). */
  stopped?: { reason: string; hint: string };
}

/** One problem of a plan's action list: the action's index (0-based) and what is wrong. */
export interface PlanProblem {
  index: number;
  message: string;
}

const TOGGLES: ReadonlySet<ActionKind> = new Set(['suspend', 'unsuspend']);

/**
 * A plan holds at most one action of each kind per user, and at most one toggle (suspend or
 * unsuspend) per user: two toggles undo each other. A repeat is a broken plan, never "do it
 * twice". Users are told apart by email_id.
 */
export function planProblems(actions: readonly Action[]): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const first = new Map<string, number>();
  actions.forEach((action, index) => {
    const what = `${action.kind} ${action.email} (email_id ${action.emailId})`;
    const kindKey = `${action.kind}|${action.emailId}`;
    const toggleKey = TOGGLES.has(action.kind) ? `toggle|${action.emailId}` : undefined;
    const same = first.get(kindKey);
    const toggle = toggleKey === undefined ? undefined : first.get(toggleKey);
    if (same !== undefined) {
      problems.push({ index, message: `action ${index} (${what}) repeats action ${same}` });
    } else if (toggle !== undefined) {
      problems.push({
        index,
        message: `action ${index} (${what}) is a second toggle for the user, after action ${toggle}: at most one suspend or unsuspend per user`,
      });
    }
    const unsendable = unsendableValue(action);
    if (unsendable !== undefined)
      problems.push({ index, message: `action ${index} (${what}) ${unsendable}` });
    if (same === undefined) first.set(kindKey, index);
    if (toggleKey !== undefined && toggle === undefined) first.set(toggleKey, index);
  });
  return problems;
}

/** What makes two actions the same: kind, user (id and email) and the value set. */
export function actionKey(action: Action): string {
  return `${action.kind}|${action.emailId}|${action.email.toLowerCase()}|${JSON.stringify(action.after)}`;
}

/** Why a reviewed plan's action no longer fits the organization, or undefined. */
function staleReason(action: Action, options: ApplyOptions): string | undefined {
  const org = options.currentOrganization;
  if (org === undefined) return undefined;
  const user = org.get(action.emailId);
  if (user === undefined) return 'the user is no longer in the organization';
  if (user.email.toLowerCase() !== action.email.toLowerCase()) {
    return `email_id ${action.emailId} now belongs to ${user.email}`;
  }
  const changed = targetChanged(action, user, options.currentRanks);
  if (changed !== undefined) return changed;
  if (options.currentlyWanted !== undefined && !options.currentlyWanted.has(actionKey(action))) {
    return "today's read no longer calls for it";
  }
  return undefined;
}

function targetChanged(
  action: Action,
  user: OrgUser,
  ranks: ReadonlyMap<number, Rank | undefined> | undefined,
): string | undefined {
  switch (action.kind) {
    case 'promote_guest':
      return user.tag === 'GUEST' ? undefined : 'the user is no longer a guest';
    case 'suspend':
      return user.adStatus === 'ACTIVE' ? undefined : `the user is now ${user.adStatus}`;
    case 'unsuspend':
      return user.adStatus === 'SUSPENDED' ? undefined : `the user is now ${user.adStatus}`;
    case 'set_rank': {
      const now = ranks?.get(action.emailId) ?? null;
      return now === action.before
        ? undefined
        : `the rank on record is now ${now ?? 'none'}, not ${action.before ?? 'none'}`;
    }
    default:
      return undefined;
  }
}

/**
 * The order of one user's actions at apply, and what each one waits for.
 *
 * - Suspend, unsuspend and remove depend on nothing: a failed login name, smart card or rank
 *   change never holds back the security action, and they go first, so a leaver is locked out
 *   before anything cosmetic is tried.
 * - `promote_guest` comes before the user's other writes, and those depend on it: they were
 *   planned for a USER (a guest cannot be given policies or groups, and a rank grant to a guest
 *   is not what the rules meant). If the promotion fails they are skipped, to be planned again.
 * - Login names, smart cards and rank are independent of one another.
 */
const EXECUTION_ORDER: readonly ActionKind[] = [
  'unsuspend',
  'suspend',
  'promote_guest',
  'set_computer_usernames',
  'set_smartcards',
  'set_rank',
  'remove',
];
const NEEDS_PROMOTION: ReadonlySet<ActionKind> = new Set([
  'set_computer_usernames',
  'set_smartcards',
  'set_rank',
]);

/** Why a failure stops the whole apply (the token lacks a right), or undefined. */
function stopReason(action: Action, error: unknown): ApplyReport['stopped'] {
  if (!(error instanceof ApiError)) return undefined;
  if (error.status === 401) {
    return {
      reason: `the API refused the token (401 on ${action.kind} ${action.email}): no further action was sent`,
      hint: 'check api.token or api.tokenFile: the token may be wrong, expired or revoked',
    };
  }
  if (error.status !== 403) return undefined;
  // Contract note 2: an ADMIN may do everything but grant or remove ADMIN/SUPER. A 403 on such a
  // rank change says only that; the token may still write everything else.
  const privileged = (r: Rank | null): boolean => r === 'ADMIN' || r === 'SUPER';
  if (action.kind === 'set_rank' && (privileged(action.after) || privileged(action.before)))
    return undefined;
  return {
    reason: `the token's user may not change the organization (403 on ${action.kind} ${action.email}): the token has read rights only; no further action was sent`,
    hint: 'use a token of an ADMIN or SUPER user (a REGULAR user may only read; only a SUPER may grant or remove ADMIN and SUPER), or run `dirsync plan` to see what would change',
  };
}

/** The message of a 403 on a privileged rank change: what right is missing. */
function rankRightMessage(error: unknown): string {
  return `${describeError(error)} (the token's user may not grant or remove ADMIN or SUPER: that takes a SUPER token)`;
}

/**
 * Applies a plan: users in parallel (bounded), each user's actions in {@link EXECUTION_ORDER},
 * each outcome journaled as it lands. A failure skips only the actions that depend on it; a
 * refused token (401, or 403 on a write) stops the apply: nothing more is sent. The first write
 * goes alone, so that a read-only token meets one 403, not one per worker.
 */
export async function applyPlan(plan: Plan, options: ApplyOptions): Promise<ApplyReport> {
  const logger = options.logger ?? createSilentLogger();
  const clock = options.clock ?? (() => new Date());
  const problems = planProblems(plan.actions);
  if (problems.length > 0) {
    throw new DirsyncError(
      `the plan is invalid, nothing was sent:\n${problems.map((p) => `  ${p.message}`).join('\n')}`,
      {
        hint: 'this plan would change a user twice or send a value the API must not get; make a new one with `dirsync plan --out`',
      },
    );
  }
  const byUser = new Map<number, Action[]>();
  for (const a of plan.actions) {
    const list = byUser.get(a.emailId);
    if (list === undefined) byUser.set(a.emailId, [a]);
    else list.push(a);
  }
  for (const chain of byUser.values())
    chain.sort((a, b) => EXECUTION_ORDER.indexOf(a.kind) - EXECUTION_ORDER.indexOf(b.kind));
  const queue = [...byUser.values()];
  const results: ActionResult[] = [];
  let stopped: ApplyReport['stopped'];
  const done = (result: ActionResult): void => {
    results.push(result);
    options.onResult?.(result);
  };

  const statuses = new StatusReader(options.api, clock, options.statusMaxAgeMs ?? 60_000);
  let firstWrite: Promise<void> | undefined;

  /** Sends one action; never throws. */
  async function attempt(action: Action): Promise<ActionResult> {
    try {
      const outcome = await execute(action, options, statuses, clock);
      return { action, outcome };
    } catch (error) {
      if (error instanceof Skip) return { action, outcome: 'skipped', error: error.message };
      const stop = stopReason(action, error);
      if (stop !== undefined && stopped === undefined) {
        stopped = stop;
        logger.error('apply stopped: the token was refused', { reason: stop.reason });
      }
      const message =
        action.kind === 'set_rank' && error instanceof ApiError && error.status === 403
          ? rankRightMessage(error)
          : describeError(error);
      logger.warn('action failed', { kind: action.kind, email: action.email, error: message });
      return { action, outcome: 'failed', error: message };
    }
  }

  async function send(action: Action): Promise<ActionResult> {
    if (firstWrite === undefined) {
      let open = (): void => undefined;
      firstWrite = new Promise<void>((resolve) => (open = resolve));
      try {
        return await attempt(action);
      } finally {
        open();
      }
    }
    await firstWrite;
    if (stopped !== undefined)
      return { action, outcome: 'skipped', error: `not sent: ${stopped.reason}` };
    return attempt(action);
  }

  async function worker(): Promise<void> {
    for (let chain = queue.shift(); chain !== undefined; chain = queue.shift()) {
      let promotionFailed: string | undefined;
      for (const action of chain) {
        let skip: string | undefined;
        if (stopped !== undefined) skip = `not sent: ${stopped.reason}`;
        else if (options.signal?.aborted === true) skip = 'stopped before it was sent (shutdown)';
        else if (promotionFailed !== undefined && NEEDS_PROMOTION.has(action.kind))
          skip = promotionFailed;
        else skip = staleReason(action, options);
        if (skip !== undefined) {
          done({ action, outcome: 'skipped', error: skip });
          continue;
        }
        const result = await send(action);
        done(result);
        if (
          action.kind === 'promote_guest' &&
          result.outcome !== 'applied' &&
          result.outcome !== 'unchanged'
        )
          promotionFailed = `not sent: the user is still a guest (promote_guest ${result.outcome})`;
      }
    }
  }

  const workers = Math.max(1, Math.min(options.concurrency ?? 16, queue.length));
  await Promise.all(Array.from({ length: workers }, () => worker()));

  const counts: ApplyReport['counts'] = {};
  let failed = 0;
  let unclear = 0;
  for (const r of results) {
    const k = (counts[r.action.kind] ??= {});
    k[r.outcome] = (k[r.outcome] ?? 0) + 1;
    if (r.outcome === 'failed') failed++;
    if (r.outcome === 'unclear') unclear++;
  }
  return { results, counts, failed, unclear, ...(stopped === undefined ? {} : { stopped }) };
}

/** An action not sent, and why (thrown by `execute`, reported as `skipped`). */
class Skip extends Error {}

/**
 * The organization's statuses as read during this apply: one fresh read (no cache) shared by
 * every toggle, read again once older than `maxAgeMs`.
 */
class StatusReader {
  private current: { at: number; read: Promise<Map<number, OrgUser>> } | undefined;
  constructor(
    private readonly api: UsersApi,
    private readonly clock: () => Date,
    private readonly maxAgeMs: number,
  ) {}

  async of(emailId: number): Promise<OrgUser | undefined> {
    const now = this.clock().getTime();
    if (this.current === undefined || now - this.current.at > this.maxAgeMs) {
      // The listing's rows as they are: a copy of five fields per user would only cost memory.
      const read = this.api
        .listOrganization({ fresh: true })
        .then((users) => new Map<number, OrgUser>(users.map((u) => [u.emailId, u])));
      this.current = { at: now, read };
      // A failed read is not kept: the next toggle tries again.
      read.catch(() => {
        if (this.current?.read === read) this.current = undefined;
      });
    }
    return (await this.current.read).get(emailId);
  }
}

/**
 * A toggle: decided on a status read during this apply, journaled `toggle-sent` before it is sent
 * and `toggle-resolved` when its outcome is known.
 */
async function toggle(
  action: ActionOf<'suspend' | 'unsuspend'>,
  options: ApplyOptions,
  statuses: StatusReader,
  clock: () => Date,
): Promise<Outcome> {
  const { api, journal } = options;
  const suspend = action.kind === 'suspend';
  const from = action.before;
  const want = action.after;
  let now: OrgUser | undefined;
  try {
    now = await statuses.of(action.emailId);
  } catch (error) {
    throw new DirsyncError(`not sent: the status could not be read fresh before the toggle`, {
      cause: error,
    });
  }
  if (now === undefined)
    throw new Skip('not sent: the user is no longer in the organization (read at apply)');
  if (now.email.toLowerCase() !== action.email.toLowerCase())
    throw new Skip(
      `not sent: email_id ${action.emailId} now belongs to ${now.email} (read at apply)`,
    );
  if (now.adStatus !== from) {
    throw new Skip(
      `not sent: the user is ${now.adStatus} now (read at apply), not ${from} as planned; changed meanwhile, by hand or another run`,
    );
  }
  const base = { type: 'user', emailId: action.emailId } as const;
  const resolved = (result: 'landed' | 'not-landed' | 'unclear'): void =>
    journal.record({
      type: 'toggle-resolved',
      emailId: action.emailId,
      result,
      at: clock().toISOString(),
    });
  // The intent goes to the journal first: if the process dies after the toggle landed, the next
  // run knows the suspension was dirsync's, and that a toggle may be in flight.
  if (suspend) journal.record({ ...base, set: { email: action.email, suspendedByDirsync: true } });
  journal.record({
    type: 'toggle-sent',
    emailId: action.emailId,
    email: action.email,
    want,
    from,
    at: clock().toISOString(),
  });
  let outcome;
  try {
    outcome = await api.setSuspended(action.emailId, suspend, { observed: from });
  } catch (error) {
    // An error from the client is definite: refused, or never reached the server.
    resolved('not-landed');
    if (suspend)
      journal.record({ ...base, set: { email: action.email, suspendedByDirsync: undefined } });
    throw error;
  }
  if (outcome === 'unclear') {
    resolved('unclear');
    return 'unclear';
  }
  resolved('landed');
  if (!suspend)
    journal.record({ ...base, set: { email: action.email, suspendedByDirsync: undefined } });
  return outcome;
}

/** Sends one action and journals its outcome. */
async function execute(
  action: Action,
  options: ApplyOptions,
  statuses: StatusReader,
  clock: () => Date,
): Promise<Outcome> {
  const { api, journal } = options;
  const { emailId } = action;
  const user = (set: StatePatch & { type: 'user' }): void => journal.record(set);
  const base = { type: 'user', emailId } as const;
  switch (action.kind) {
    case 'promote_guest':
      return api.promoteGuest(emailId);
    case 'unsuspend':
    case 'suspend':
      return toggle(action, options, statuses, clock);
    case 'set_computer_usernames': {
      const names = action.after;
      await api.setComputerUsernames(emailId, names);
      user({ ...base, set: { email: action.email, computerUsernames: [...names].sort() } });
      return 'applied';
    }
    case 'set_smartcards': {
      const { cards } = action;
      await api.setSmartcards(emailId, cards);
      user({
        ...base,
        set: { email: action.email, smartcards: cards.map((c) => c.number).sort() },
      });
      return 'applied';
    }
    case 'set_rank': {
      const rank = action.after;
      await api.setRank(action.userId, rank);
      user({ ...base, set: { email: action.email, rank } });
      return 'applied';
    }
    case 'remove': {
      const outcome = await api.deleteUser(emailId);
      journal.record({ type: 'forget', emailId: action.emailId });
      return outcome;
    }
  }
}
