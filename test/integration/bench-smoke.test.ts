/**
 * The 100k-user benchmarks at 1k users, so that their code keeps working: what they count and
 * check, never how long it takes. The full runs are `npm run bench` (BENCHMARKS.md).
 */
import { describe, expect, it } from 'vitest';
import { benchPlan, expectedPlanCounts } from '../../bench/plan.js';
import { benchDomains } from '../../bench/plan-domains.js';
import { benchSteadySize } from '../../bench/steady.js';
import { benchSync, minimumCalls, SYNC_DRIFT } from '../../bench/sync.js';
import { slapdAvailable, slapdUnavailableReason } from '../support/slapd.js';

const skip = !slapdAvailable() && process.env.CI !== 'true';
if (skip)
  console.warn(`Skipping the whole-run bench smoke test: ${slapdUnavailableReason() ?? ''}`);

const USERS = 1000;
/** Users in each 1% drift slice. */
const SLICE = USERS / 100;

describe('bench smoke, 1k users', () => {
  it('the pure planner bench plans exactly the drift it built', () => {
    const result = benchPlan(USERS, 1);
    expect(result.counts).toEqual(expectedPlanCounts(USERS));
    // Only the guests have no state record: nobody else needs a detail read.
    expect(result.detailReads).toBe(SLICE);
  });

  it('the scope bench plans nothing for a converged organization, every user in scope', () => {
    const result = benchDomains(USERS, 700, 1, true);
    expect(result).toMatchObject({ managedUsers: USERS, actions: 0, detailReads: 0 });
  });

  it.each([
    ['one list differs: read it, write it', [['set_computer_usernames', 1]], 3, 2 + 1 + 1 + 2],
    [
      'both differ: two blind writes beat a read',
      [
        ['set_computer_usernames', 1],
        ['set_smartcards', 1],
      ],
      3,
      2 + 2 + 2,
    ],
    ['no list differs: one read each', [['set_rank', 1]], 2, 2 + 1 + 2],
    ['a toggle: the listings read fresh once more', [['suspend', 1]], 1, 2 + 2 + 1 + 1],
  ] as const)('minimumCalls: %s', (_name, actions, listUsers, minimum) => {
    const plan = {
      actions: actions.map(([kind, emailId]) => ({ kind, emailId })),
      summary: { matched: listUsers, managedUsers: listUsers, actions: {} },
    };
    expect(minimumCalls(plan, listUsers, 2)).toBe(minimum);
  });

  it.skipIf(skip)(
    'first run, convergence and quiet run against slapd and the mock count the calls they should',
    async () => {
      const r = await benchSync(USERS, 1);
      const matched = USERS - SLICE; // the leaver slice is not in the directory
      expect(r.organizationUsers).toBe(USERS);
      expect(r.orgRead.runs.map((o) => o.users)).toEqual([USERS]);

      const [first] = r.firstRuns;
      expect(first?.actions).toEqual({
        promote_guest: SLICE,
        set_computer_usernames: SLICE,
        set_smartcards: SLICE,
        set_rank: matched,
        suspend: 2 * SLICE, // locked accounts and leavers
      });
      // The plan reads and writes nothing but the listings and every managed user's details.
      expect(first?.planCalls).toMatchObject({ listings: 2, detailReads: matched, writes: 0 });
      // Two listings to plan, two read fresh before the first toggle.
      expect(first?.applyCalls.byEndpoint).toEqual({
        'GET /multipleusers': 4,
        'GET /user': matched,
        'POST /modifyrank': matched,
        'POST /promoteguest': SLICE,
        'POST /modifyallusernames': SLICE,
        'POST /modifysmartcard': SLICE,
        'POST /togglesuspension': 2 * SLICE,
      });
      // No user has both lists wrong here, so reading each one is the cheapest way.
      expect(first?.minimum).toBe(first?.applyCalls.total);
      expect(first?.planRssMiB).toBeGreaterThan(0);
      expect(SYNC_DRIFT.locked % 100).toBe(7); // the LDIF locks one user in 100 at slice 7

      expect(r.convergeApplies).toBe(1);
      expect(r.quietRuns).toHaveLength(1);
      expect(r.quietRuns[0]?.calls.byEndpoint).toEqual({ 'GET /multipleusers': 2 });
      expect(r.quietRuns[0]?.directoryReadMs).toBeGreaterThan(0);
      expect(r.quietRuns[0]?.applyRssMiB).toBeGreaterThan(0);
    },
    180_000,
  );

  it.skipIf(skip)(
    'steady state: a converged organization with every shape left alone costs exactly the 2 listings',
    async () => {
      const r = await benchSteadySize(USERS, 1, { cpuProf: true });
      expect(r.convergeApplies).toBeGreaterThan(0);
      expect(r.shapes).toEqual({
        guests: 3 * SLICE,
        otherDomain: SLICE,
        excluded: 10,
        protected: 10,
        handSuspended: SLICE,
        leavers: SLICE,
        locked: SLICE,
      });
      // Guests of the one promote group were promoted; the rest stay guests, unread.
      expect(r.unpromotedGuests).toBeGreaterThan(0);
      expect(r.unpromotedGuests).toBeLessThan(3 * SLICE);
      expect(r.runs.map((m) => m.calls.byEndpoint)).toEqual([{ 'GET /multipleusers': 2 }]);
      expect(r.quiet).toBe(true);
      expect(r.runs[0]?.directoryReadMs).toBeGreaterThan(0);
      expect(r.runs[0]?.organizationReadMs).toBeGreaterThanOrEqual(0);
      expect(r.runs[0]?.planningMs).toBeGreaterThanOrEqual(0);
      expect(r.planRssMiB.median).toBeGreaterThan(0);
      expect(r.profile?.places.length).toBeGreaterThan(0);
    },
    600_000,
  );
});
