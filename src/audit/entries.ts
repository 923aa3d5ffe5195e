import type { ToggleStatus } from '../api/schema.js';
import { describeError, type SafetyError } from '../errors.js';
import type { Action } from '../reconcile/model.js';
import type { AuditEntry } from './audit-log.js';

/** An action's outcome as apply reports it; any outcome string is kept as it is. */
export interface OutcomeLike {
  action: Pick<Action, 'kind' | 'email' | 'emailId' | 'before' | 'after' | 'reason'>;
  outcome: string;
  error?: string | undefined;
}

/** The fields of a line about one user's action: who, what, and the values before and after. */
function userLine(
  what: { kind: string; email: string; emailId: number; before?: unknown; after?: unknown },
  runId: string,
  time: Date,
): Pick<AuditEntry, 'time' | 'runId' | 'kind' | 'email' | 'email_id' | 'before' | 'after'> {
  return {
    time: time.toISOString(),
    runId,
    kind: what.kind,
    email: what.email,
    email_id: what.emailId,
    before: what.before ?? null,
    after: what.after ?? null,
  };
}

/** The audit line of one applied, failed, skipped or unclear action. */
export function actionEntry(result: OutcomeLike, runId: string, time: Date): AuditEntry {
  const { action } = result;
  return {
    ...userLine(action, runId, time),
    reason: action.reason,
    outcome: result.outcome,
    error: result.error ?? null,
  };
}

/** A toggle an earlier run sent and left unresolved (a crash, an unclear outcome). */
export interface VerifiedToggleLike {
  email: string;
  emailId: number;
  want: ToggleStatus;
  sentAt: string;
  concluded: string;
  detail: string;
}

/**
 * What a run found out about a toggle an earlier run sent: outcome `verified-landed` (it took
 * effect), `verified-not-landed` or `verified-gone`. The earlier run's own line (unclear, or
 * none if it died) is never rewritten: this line completes it.
 */
export function verifiedToggleEntry(v: VerifiedToggleLike, runId: string, time: Date): AuditEntry {
  return {
    time: time.toISOString(),
    runId,
    kind: v.want === 'SUSPENDED' ? 'suspend' : 'unsuspend',
    email: v.email,
    email_id: v.emailId,
    before: v.want === 'SUSPENDED' ? 'ACTIVE' : 'SUSPENDED',
    after: v.want,
    reason: `toggle sent by an earlier run at ${v.sentAt}: ${v.detail}`,
    outcome: `verified-${v.concluded}`,
    error: null,
  };
}

/** An action a budget held back for review (`report.held`). */
export interface HeldLike {
  kind: string;
  email: string;
  emailId: number;
  /** Why the plan wanted it. */
  reason: string;
  before: unknown;
  after: unknown;
  /** Why it was held (the rail), when known apart from the reason. */
  heldBy?: string;
}

export function heldEntry(held: HeldLike, runId: string, time: Date): AuditEntry {
  return {
    ...userLine(held, runId, time),
    reason: held.reason,
    outcome: 'held',
    error: held.heldBy ?? null,
  };
}

/** The fields of a line about the run as a whole, not about one user. */
function runLine(runId: string, time: Date) {
  return {
    time: time.toISOString(),
    runId,
    kind: 'run',
    email: '',
    email_id: null,
    before: null,
    after: null,
  } as const;
}

/**
 * The one line a refused run writes: no line per action (none was sent, and the refused plan
 * is saved elsewhere), the rails that refused it instead, each with its message.
 */
export function refusedRunEntry(error: SafetyError, runId: string, time: Date): AuditEntry {
  const rails = error.refusals.map(({ rail, message }) => ({ rail, message }));
  return {
    ...runLine(runId, time),
    reason: error.message.split('\n', 1)[0]!.replace(/:$/, ''),
    outcome: 'refused',
    error: describeError(error),
    rails,
  };
}

/** The one line a run that stopped on an error writes (its actions have their own lines). */
export function failedRunEntry(message: string, runId: string, time: Date): AuditEntry {
  return {
    ...runLine(runId, time),
    reason: 'the run stopped on an error',
    outcome: 'failed',
    error: message,
  };
}
