import type { UsersApi } from '../api/client.js';
import { asEmailId, asUserId } from '../api/ids.js';
import { describeError } from '../errors.js';
import { createSilentLogger, type Logger } from '../log.js';
import type { StatePatch } from '../state/store.js';
import type { Action, ActionKind, OrgUser, Plan } from './model.js';

export type Outcome = 'applied' | 'unchanged' | 'failed' | 'skipped';

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
  currentRanks?: ReadonlyMap<number, string | undefined>;
  /** Called after each action, for progress and metrics. */
  onResult?: (result: ActionResult) => void;
  /** Set to stop starting new actions (SIGTERM): in-flight ones finish and are journaled. */
  signal?: AbortSignal;
}

export interface ApplyReport {
  results: ActionResult[];
  counts: Partial<Record<ActionKind, Partial<Record<Outcome, number>>>>;
  failed: number;
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
  ranks: ReadonlyMap<number, string | undefined> | undefined,
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
        : `the rank on record is now ${String(now)}, not ${String(action.before)}`;
    }
    default:
      return undefined;
  }
}

/** Sends one action and journals its outcome. */
async function execute(action: Action, options: ApplyOptions): Promise<Outcome> {
  const { api, journal } = options;
  const emailId = asEmailId(action.emailId);
  const user = (set: StatePatch & { type: 'user' }): void => journal.record(set);
  const base = { type: 'user' as const, emailId: action.emailId };
  switch (action.kind) {
    case 'promote_guest':
      return api.promoteGuest(emailId);
    case 'unsuspend': {
      const outcome = await api.setSuspended(emailId, false, { observed: 'SUSPENDED' });
      user({ ...base, set: { email: action.email, suspendedByDirsync: undefined } });
      return outcome;
    }
    case 'suspend': {
      // The intent goes to the journal first: if the process dies after the toggle landed,
      // the next run still knows the suspension was dirsync's and may lift it.
      user({ ...base, set: { email: action.email, suspendedByDirsync: true } });
      return api.setSuspended(emailId, true, { observed: 'ACTIVE' });
    }
    case 'set_computer_usernames': {
      const names = action.after as string[];
      await api.setComputerUsernames(emailId, names);
      user({ ...base, set: { email: action.email, computerUsernames: [...names].sort() } });
      return 'applied';
    }
    case 'set_smartcards': {
      const cards =
        action.cards ?? (action.after as string[]).map((number) => ({ number, label: '' }));
      await api.setSmartcards(emailId, cards);
      user({
        ...base,
        set: { email: action.email, smartcards: cards.map((c) => c.number).sort() },
      });
      return 'applied';
    }
    case 'set_rank': {
      const rank = action.after as 'SUPER' | 'ADMIN' | 'REGULAR';
      await api.setRank(asUserId(action.userId ?? NaN), rank);
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

/**
 * Applies a plan: one user's actions in order, users in parallel (bounded), each outcome
 * journaled as it lands. A failed action does not stop the others, but it does stop the rest
 * of that user's actions (they assumed it would succeed).
 */
export async function applyPlan(plan: Plan, options: ApplyOptions): Promise<ApplyReport> {
  const logger = options.logger ?? createSilentLogger();
  const byUser = new Map<number, Action[]>();
  for (const a of plan.actions) {
    const list = byUser.get(a.emailId);
    if (list === undefined) byUser.set(a.emailId, [a]);
    else list.push(a);
  }
  const queue = [...byUser.values()];
  const results: ActionResult[] = [];
  const done = (result: ActionResult): void => {
    results.push(result);
    options.onResult?.(result);
  };

  async function worker(): Promise<void> {
    for (let chain = queue.shift(); chain !== undefined; chain = queue.shift()) {
      let blocked: string | undefined;
      for (const action of chain) {
        if (options.signal?.aborted === true) blocked ??= 'stopped before it was sent (shutdown)';
        const stale = blocked ?? staleReason(action, options);
        if (stale !== undefined) {
          done({ action, outcome: 'skipped', error: stale });
          continue;
        }
        try {
          const outcome = await execute(action, options);
          done({ action, outcome });
        } catch (error) {
          const message = describeError(error);
          logger.warn('action failed', { kind: action.kind, email: action.email, error: message });
          done({ action, outcome: 'failed', error: message });
          blocked = `not sent: the ${action.kind} before it failed`;
        }
      }
    }
  }

  const workers = Math.max(1, Math.min(options.concurrency ?? 16, queue.length));
  await Promise.all(Array.from({ length: workers }, () => worker()));

  const counts: ApplyReport['counts'] = {};
  let failed = 0;
  for (const r of results) {
    const k = (counts[r.action.kind] ??= {});
    k[r.outcome] = (k[r.outcome] ?? 0) + 1;
    if (r.outcome === 'failed') failed++;
  }
  return { results, counts, failed };
}
