import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { applyPlan, planProblems } from '../../../src/reconcile/apply.js';
import type { Plan } from '../../../src/reconcile/model.js';
import { applyPatch } from '../../../src/state/store.js';
import { emptyState } from '../../../src/state/model.js';
import { aSeedUser, stateUser } from '../../support/mock.js';
import { parseAction, type ActionInput } from '../../unit/reconcile/builders.js';
import { MemoryJournal, mockApiPerTest, planOf, type SeededUser } from './harness.js';

const mock = mockApiPerTest();

/** A plan that suspends each of `emails`, ACTIVE when planned. */
function suspensions(w: { user(email: string): SeededUser }, emails: string[]): Plan {
  return planOf(
    emails.map((e) => ({ ...w.user(e), kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' })),
  );
}

/** POST /togglesuspension requests the mock carried out, per email_id. */
function togglesPerUser(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of mock.server.requests) {
    if (r.path !== '/togglesuspension' || r.status !== 200) continue;
    const id = String(r.params['email_id']);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

const emails = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `u${String(i).padStart(2, '0')}@corp.example.com`);

describe('a toggle is decided on a status read during this apply (issue 12 item 4)', () => {
  it('does not flip back a user an admin unsuspended by hand after the plan was made', async () => {
    const w = await mock.start([
      aSeedUser({ email: 'ann@corp.example.com', ad_status: 'SUSPENDED' }),
    ]);
    const ann = w.user('ann@corp.example.com');
    // The plan saw Ann SUSPENDED (dirsync's own suspension, lifted since: she is back).
    // Meanwhile an admin unsuspends her by hand.
    await request(`${mock.server.url}/_mock/users/${ann.emailId}`, {
      method: 'POST',
      body: JSON.stringify({ ad_status: 'ACTIVE' }),
    }).then((r) => r.body.dump());

    const report = await applyPlan(
      planOf([{ ...ann, kind: 'unsuspend', before: 'SUSPENDED', after: 'ACTIVE' }]),
      { api: mock.api, journal: new MemoryJournal() },
    );

    expect(report.results[0]).toMatchObject({
      outcome: 'skipped',
      error: expect.stringMatching(/ACTIVE now \(read at apply\)/) as string,
    });
    expect((await stateUser(mock.server.url, 'ann@corp.example.com'))?.ad_status).toBe('ACTIVE');
    expect(togglesPerUser().size).toBe(0);
  });

  it('reads the listings once for all the toggles of the apply, past any cache', async () => {
    const list = emails(10);
    const w = await mock.start(
      list.map((email) => aSeedUser({ email })),
      { faults: { '/multipleusers': { cacheListingsMs: 60_000 } } },
    );
    // A listing cached before the apply: stale by the time the toggles are decided.
    await mock.api.listOrganization();
    const joe = w.user(list[0]!);
    await request(`${mock.server.url}/_mock/users/${joe.emailId}`, {
      method: 'POST',
      body: JSON.stringify({ ad_status: 'SUSPENDED' }),
    }).then((r) => r.body.dump());
    mock.server.requests.length = 0;

    const report = await applyPlan(suspensions(w, list), {
      api: mock.api,
      journal: new MemoryJournal(),
      concurrency: 4,
    });

    const listings = mock.server.requests.filter((r) => r.path === '/multipleusers');
    expect(listings.map((r) => r.fault ?? 'fresh')).toEqual(['fresh', 'fresh']);
    expect(report.results.find((r) => r.action.email === list[0])).toMatchObject({
      outcome: 'skipped',
      error: expect.stringMatching(/SUSPENDED now/) as string,
    });
    expect(report.counts.suspend).toEqual({ applied: 9, skipped: 1 });
  });
});

describe('toggle answers lost behind a caching gateway (issue 12 item 3)', () => {
  const list = emails(30);
  const faults = (ignoresNoCache: boolean): unknown => ({
    seed: 3,
    '/multipleusers': { cacheListingsMs: 5000, cacheIgnoresNoCache: ignoresNoCache },
    '/togglesuspension': { dropAfterCommit: 0.34 },
  });

  it('never toggles a user twice: the re-read after a lost answer asks past the cache', async () => {
    const w = await mock.start(
      list.map((email) => aSeedUser({ email })),
      { faults: faults(false), settleMs: 50 },
    );
    // The gateway has a copy of the listing from before the apply.
    await mock.api.listOrganization();

    const report = await applyPlan(suspensions(w, list), {
      api: mock.api,
      journal: new MemoryJournal(),
    });

    expect(mock.server.requests.some((r) => r.fault === 'drop')).toBe(true);
    expect([...togglesPerUser().values()].every((n) => n === 1)).toBe(true);
    expect(report.counts.suspend).toEqual({ applied: 30 });
    for (const e of list)
      expect((await stateUser(mock.server.url, e))?.ad_status).toBe('SUSPENDED');
  });

  it('a gateway that ignores no-cache: lost toggles are reported unclear, journaled, never resent', async () => {
    const w = await mock.start(
      list.map((email) => aSeedUser({ email })),
      { faults: faults(true), settleMs: 50 },
    );
    await mock.api.listOrganization();
    const journal = new MemoryJournal();

    const report = await applyPlan(suspensions(w, list), { api: mock.api, journal });

    const drops = mock.server.requests.filter((r) => r.fault === 'drop').length;
    expect(drops).toBeGreaterThan(0);
    expect([...togglesPerUser().values()].every((n) => n === 1)).toBe(true);
    expect(report.unclear).toBe(drops);
    expect(report.counts.suspend).toEqual({ applied: 30 - drops, unclear: drops });
    // Every user ended SUSPENDED: each toggle landed exactly once.
    for (const e of list)
      expect((await stateUser(mock.server.url, e))?.ad_status).toBe('SUSPENDED');
    // The unclear ones stay pending in the state record, for the next run to verify.
    const state = emptyState();
    for (const p of journal.patches) applyPatch(state, p);
    const pending = Object.values(state.users).filter((u) => u.pendingToggle !== undefined);
    expect(pending).toHaveLength(drops);
    expect(pending.every((u) => u.pendingToggle?.unclear === true)).toBe(true);
  });
});

describe('at most one toggle per user per plan (issue 12 item 1)', () => {
  const joe = { email: 'joe@corp.example.com', emailId: 1004, reason: 'test' };
  const userId = 5004;

  it.each([
    [
      'the same toggle twice',
      [
        { ...joe, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
        { ...joe, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
      ],
      /action 1 \(suspend joe@corp.example.com \(email_id 1004\)\) repeats action 0/,
    ],
    [
      'a suspend and an unsuspend',
      [
        { ...joe, kind: 'unsuspend', before: 'SUSPENDED', after: 'ACTIVE' },
        { ...joe, kind: 'set_rank', userId, before: null, after: 'REGULAR' },
        { ...joe, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
      ],
      /action 2 .* is a second toggle for the user, after action 0/,
    ],
    [
      'two rank changes',
      [
        { ...joe, kind: 'set_rank', userId, before: null, after: 'REGULAR' },
        { ...joe, kind: 'set_rank', userId, before: null, after: 'ADMIN' },
      ],
      /action 1 \(set_rank .*\) repeats action 0/,
    ],
  ] satisfies [string, ActionInput[], RegExp][])('finds %s', (_what, actions, message) => {
    const problems = planProblems(actions.map(parseAction));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(message);
  });

  it('accepts one action of each kind per user', () => {
    const other = { ...joe, email: 'ann@corp.example.com', emailId: 1005 };
    expect(
      planProblems(
        [
          { ...joe, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
          { ...joe, kind: 'set_rank', userId, before: null, after: 'REGULAR' },
          { ...other, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
        ].map((a) => parseAction(a as ActionInput)),
      ),
    ).toEqual([]);
  });

  it('applyPlan refuses such a plan and sends nothing', async () => {
    const w = await mock.start([aSeedUser({ email: 'joe@corp.example.com' })]);
    const j = w.user('joe@corp.example.com');
    const twice: ActionInput[] = [
      { ...j, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
      { ...j, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
    ];
    await expect(
      applyPlan(planOf(twice), { api: mock.api, journal: new MemoryJournal() }),
    ).rejects.toThrow(/the plan is invalid, nothing was sent/);
    expect(mock.server.requests).toEqual([]);
  });
});

describe('a listing that repeats a row is refused (issue 12 item 1)', () => {
  it.each([
    ['same', /more than once: \d+ \(joe@corp.example.com, twice as USER\)/],
    ['other', /email_id\(s\) more than once: \d+ \(joe@corp.example.com, as USER and GUEST\)/],
  ])('duplicateRowsInto %s', async (into, message) => {
    await mock.start([aSeedUser({ email: 'joe@corp.example.com' })], {
      faults: {
        '/multipleusers': { duplicateRows: ['joe@corp.example.com'], duplicateRowsInto: into },
      },
    });
    await expect(mock.api.listOrganization()).rejects.toThrow(message);
  });
});
