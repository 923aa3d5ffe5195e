import { describe, expect, it } from 'vitest';
import {
  pendingToggles,
  resolvePendingToggles,
  settleWaitMs,
} from '../../../src/reconcile/pending-toggles.js';
import { asEmailId, asUserId } from '../../../src/api/ids.js';
import type { OrgUser } from '../../../src/reconcile/model.js';
import { emptyState, type StateRecord } from '../../../src/state/model.js';
import { applyPatch, type StatePatch } from '../../../src/state/store.js';

const T0 = '2026-03-01T10:00:00.000Z';
const at = (ms: number): Date => new Date(Date.parse(T0) + ms);

/** A state record replayed from journal patches, as a restarted run loads it. */
function replay(patches: StatePatch[]): StateRecord {
  const state = emptyState();
  for (const p of patches) applyPatch(state, p);
  return state;
}

const sent = (emailId: number, want: 'ACTIVE' | 'SUSPENDED' = 'SUSPENDED'): StatePatch => ({
  type: 'toggle-sent',
  emailId,
  email: `u${emailId}@corp.example.com`,
  want,
  from: want === 'SUSPENDED' ? 'ACTIVE' : 'SUSPENDED',
  at: T0,
});

const orgUser = (emailId: number, adStatus: OrgUser['adStatus']): OrgUser => ({
  emailId: asEmailId(emailId),
  userId: asUserId(emailId + 5000),
  email: `u${emailId}@corp.example.com`,
  tag: 'USER',
  adStatus,
});

class MemoryJournal {
  constructor(readonly state: StateRecord) {}
  readonly patches: StatePatch[] = [];
  record(patch: StatePatch): void {
    this.patches.push(patch);
    applyPatch(this.state, patch);
  }
}

describe('the toggle journal', () => {
  it('keeps a toggle pending from toggle-sent until it is resolved', () => {
    const state = replay([sent(1), sent(2), sent(3)]);
    expect(pendingToggles(state).map((p) => p.emailId)).toEqual([1, 2, 3]);

    applyPatch(state, { type: 'toggle-resolved', emailId: 1, result: 'landed', at: T0 });
    applyPatch(state, { type: 'toggle-resolved', emailId: 2, result: 'unclear', at: T0 });

    expect(pendingToggles(state).map((p) => p.emailId)).toEqual([2, 3]);
    expect(state.users['2']?.pendingToggle).toMatchObject({ unclear: true, want: 'SUSPENDED' });
  });
});

describe('settleWaitMs', () => {
  it.each([
    ['nothing pending', [], 100, 0],
    ['a toggle sent 100 ms ago, settle 3000', [sent(1)], 100, 2900],
    ['a toggle sent long ago', [sent(1)], 60_000, 0],
  ] as [string, StatePatch[], number, number][])('%s', (_what, patches, now, wait) => {
    expect(settleWaitMs(replay(patches), at(now), 3000)).toBe(wait);
  });

  it('never waits longer than settleMs, even for a time in the future', () => {
    expect(settleWaitMs(replay([sent(1)]), at(-3_600_000), 3000)).toBe(3000);
  });
});

describe('resolvePendingToggles', () => {
  it('concludes from a settled read whether each toggle landed, and journals it', () => {
    const state = replay([sent(1), sent(2), sent(3, 'ACTIVE'), sent(4)]);
    const journal = new MemoryJournal(state);

    const verdicts = resolvePendingToggles(
      state,
      [orgUser(1, 'SUSPENDED'), orgUser(2, 'ACTIVE'), orgUser(3, 'ACTIVE')],
      journal,
      at(5000),
    );

    expect(verdicts.map((v) => [v.emailId, v.concluded])).toEqual([
      [1, 'landed'],
      [2, 'not-landed'],
      [3, 'landed'],
      [4, 'gone'],
    ]);
    expect(verdicts[1]?.detail).toBe(`the user is ACTIVE: the toggle sent at ${T0} did not land`);
    expect(pendingToggles(state)).toEqual([]);
    expect(journal.patches.map((p) => p.type)).toEqual(Array(4).fill('toggle-resolved'));
  });
});
