import type { ToggleStatus } from '../api/schema.js';
import type { StateRecord } from '../state/model.js';
import type { Journal } from './apply.js';
import type { OrgUser } from './model.js';

/** What a run concluded about a toggle an earlier run sent and never saw the outcome of. */
export interface ToggleVerdict {
  email: string;
  emailId: number;
  want: ToggleStatus;
  sentAt: string;
  concluded: 'landed' | 'not-landed' | 'gone';
  /** For people: what was seen. */
  detail: string;
}

/** The toggles journaled as sent and not resolved: a crash mid-toggle, or an unclear outcome. */
export function pendingToggles(
  state: StateRecord,
): { emailId: number; email: string; want: ToggleStatus; sentAt: string }[] {
  const out = [];
  for (const [id, user] of Object.entries(state.users)) {
    const p = user.pendingToggle;
    if (p !== undefined)
      out.push({ emailId: Number(id), email: user.email, want: p.want, sentAt: p.sentAt });
  }
  return out;
}

/**
 * How long to wait before the organization read can tell whether every pending toggle landed: a
 * toggle still in flight (the run that sent it was killed a moment ago) may land up to
 * `settleMs` after it was sent, and a read before that would wrongly say "not landed".
 */
export function settleWaitMs(state: StateRecord, now: Date, settleMs: number): number {
  let wait = 0;
  for (const p of pendingToggles(state)) {
    const sent = Date.parse(p.sentAt);
    const at = Number.isNaN(sent) ? 0 : sent + settleMs - now.getTime();
    wait = Math.max(wait, Math.min(at, settleMs));
  }
  return wait;
}

/**
 * Settles every pending toggle on a read made after the settle window: the status it was sent to
 * reach means it landed; the status it left means it did not (the plan made from the same read
 * then decides afresh); a user no longer listed is gone. Each verdict is journaled.
 */
export function resolvePendingToggles(
  state: StateRecord,
  organization: readonly OrgUser[],
  journal: Journal,
  now: Date,
): ToggleVerdict[] {
  const pending = pendingToggles(state);
  if (pending.length === 0) return [];
  const byId = new Map<number, OrgUser>(organization.map((u) => [u.emailId, u]));
  const verdicts: ToggleVerdict[] = [];
  for (const p of pending) {
    const user = byId.get(p.emailId);
    let concluded: ToggleVerdict['concluded'];
    let detail: string;
    if (user === undefined) {
      concluded = 'gone';
      detail = 'the user is no longer in the organization';
    } else if (user.adStatus === p.want) {
      concluded = 'landed';
      detail = `the user is ${user.adStatus}: the toggle sent at ${p.sentAt} landed`;
    } else {
      concluded = 'not-landed';
      detail = `the user is ${user.adStatus}: the toggle sent at ${p.sentAt} did not land`;
    }
    journal.record({
      type: 'toggle-resolved',
      emailId: p.emailId,
      result: concluded,
      at: now.toISOString(),
    });
    verdicts.push({
      email: p.email,
      emailId: p.emailId,
      want: p.want,
      sentAt: p.sentAt,
      concluded,
      detail,
    });
  }
  return verdicts;
}
