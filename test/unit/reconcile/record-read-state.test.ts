import { describe, expect, it } from 'vitest';
import { plan } from '../../../src/reconcile/plan.js';
import { recordReadState, readTrust } from '../../../src/reconcile/run.js';
import type { StateRecord } from '../../../src/state/model.js';
import { organizationIdentity } from '../../../src/state/organization.js';
import { applyPatch, type StatePatch } from '../../../src/state/store.js';
import {
  anInputOf,
  anOrgUser,
  aStateRecord,
  aSyncedPerson,
  aUserState,
  daysAgo,
  DOMAIN,
  emailIdOf,
  NOW,
  someRules,
} from './builders.js';

/** A state store in memory: patches applied as the real one applies them. */
function aMemoryStore(state: StateRecord) {
  const patches: StatePatch[] = [];
  return {
    state,
    patches,
    record(patch: StatePatch): void {
      patches.push(patch);
      applyPatch(state, patch);
    },
  };
}

const BOB = `bob@${DOMAIN}`;
const GONE = `gone@${DOMAIN}`;
const INFLIGHT = `inflight@${DOMAIN}`;
const LEAVER = `leaver@${DOMAIN}`;

/** bob listed and in the directory; leaver listed, not in the directory; two records of users no longer listed. */
function aRun(state: StateRecord) {
  const bob = aSyncedPerson(BOB, { record: { missingSince: daysAgo(3) } });
  const input = anInputOf([bob, { org: anOrgUser({ email: LEAVER }) }], {
    state,
    rules: someRules({ removed: { action: 'delete', graceDays: 7 } }),
  });
  const p = plan(input);
  return {
    plan: p,
    organization: [...input.organization],
    details: new Map(),
    sweep: false,
    directoryUsers: input.directory.length,
    identity: organizationIdentity(input.organization, undefined),
  };
}

function aState(): StateRecord {
  return aStateRecord({
    users: [
      aUserState({ email: BOB, rank: 'REGULAR', missingSince: daysAgo(3) }),
      aUserState({ email: GONE, rank: 'SUPER', suspendedByDirsync: true }),
      aUserState({
        email: INFLIGHT,
        pendingToggle: { want: 'SUSPENDED', from: 'ACTIVE', sentAt: daysAgo(0.01) },
      }),
    ],
  });
}

describe('recordReadState', () => {
  it('forgets users gone from the listing, but not one with a toggle in flight', () => {
    // Arrange
    const store = aMemoryStore(aState());

    // Act
    recordReadState(store, aRun(store.state), NOW);

    // Assert
    expect(Object.keys(store.state.users).sort()).toEqual(
      [BOB, INFLIGHT, LEAVER].map((e) => String(emailIdOf(e))).sort(),
    );
    expect(store.patches).toContainEqual({ type: 'forget', emailId: emailIdOf(GONE) });
  });

  it('starts and clears removal timers, and records the read size', () => {
    const store = aMemoryStore(aState());

    recordReadState(store, aRun(store.state), NOW);

    expect(store.state.users[String(emailIdOf(LEAVER))]?.missingSince).toBe(NOW.toISOString());
    expect(store.state.users[String(emailIdOf(BOB))]?.missingSince).toBeUndefined();
    expect(store.state.lastCompleteRead).toEqual({ at: NOW.toISOString(), directoryUsers: 1 });
  });

  it('after an untrusted read: clears timers of users seen, starts none, prunes nothing, keeps the old read size', () => {
    // Arrange: the directory shrank past maxSourceDropPercent and the organization listed nobody.
    const state = aState();
    state.lastCompleteRead = { at: daysAgo(1), directoryUsers: 100 };
    const store = aMemoryStore(state);
    const trust = readTrust([
      { rail: 'maxSourceDropPercent', message: '', overridable: false },
      { rail: 'emptyOrganization', message: '', overridable: false },
    ]);

    // Act
    recordReadState(store, aRun(store.state), NOW, trust);

    // Assert
    expect(trust).toEqual({ directory: false, organization: false });
    expect(store.state.users[String(emailIdOf(BOB))]?.missingSince).toBeUndefined();
    expect(store.state.users[String(emailIdOf(LEAVER))]).toBeUndefined();
    expect(store.state.users[String(emailIdOf(GONE))]).toBeDefined();
    expect(store.state.lastCompleteRead).toEqual({ at: daysAgo(1), directoryUsers: 100 });
  });
});
