import { describe, expect, it } from 'vitest';
import { applyPlan } from '../../../src/reconcile/apply.js';
import {
  ADMIN_TOKEN,
  REGULAR_TOKEN,
  aSeedUser,
  stateUser,
  type SeedUserInput,
} from '../../support/mock.js';
import type { ActionInput } from '../../unit/reconcile/builders.js';
import { MemoryJournal, mockApiPerTest, planOf } from './harness.js';

const mock = mockApiPerTest();

const writes = (): { method: string; path: string; status: number }[] =>
  mock.server.requests.filter((r) => r.method !== 'GET');

const LEAVER = 'leaver@corp.example.com';
const HOLDER = 'holder@corp.example.com';

describe('independent actions (issue 11 item 1)', () => {
  it.each<[string, SeedUserInput[], Pick<ActionInput, 'kind' | 'before' | 'after'>]>([
    [
      'set_smartcards fails (card held by another user)',
      [aSeedUser({ email: LEAVER }), aSeedUser({ email: HOLDER, smartcards: [{ number: '777' }] })],
      { kind: 'set_smartcards', before: [], after: ['777'] },
    ],
    [
      'set_computer_usernames fails',
      [aSeedUser({ email: LEAVER })],
      // An empty name is refused with a 400 by the API.
      { kind: 'set_computer_usernames', before: [], after: [' '] },
    ],
  ])('suspends a disabled user whose %s', async (_why, seed, write) => {
    const w = await mock.start(seed);
    const u = w.user(LEAVER);

    const report = await applyPlan(
      planOf([
        { ...u, ...write } as ActionInput,
        { ...u, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
      ]),
      { api: mock.api, journal: new MemoryJournal() },
    );

    expect(report.results.map((r) => [r.action.kind, r.outcome])).toEqual([
      ['suspend', 'applied'],
      [write.kind, 'failed'],
    ]);
    expect((await stateUser(mock.server.url, LEAVER))?.ad_status).toBe('SUSPENDED');
  });

  it("skips a guest's other writes when its promotion fails, but not its toggle", async () => {
    const w = await mock.start([aSeedUser({ email: LEAVER, tag: 'USER', ad_status: 'SUSPENDED' })]);
    const u = w.user(LEAVER);

    const report = await applyPlan(
      planOf([
        // Not a guest: /promoteguest answers 400.
        { ...u, kind: 'promote_guest', before: 'GUEST', after: 'USER' },
        { ...u, kind: 'unsuspend', before: 'SUSPENDED', after: 'ACTIVE' },
        { ...u, kind: 'set_computer_usernames', before: [], after: ['lv'] },
      ]),
      { api: mock.api, journal: new MemoryJournal() },
    );

    expect(report.results.map((r) => [r.action.kind, r.outcome])).toEqual([
      ['unsuspend', 'applied'],
      ['promote_guest', 'failed'],
      ['set_computer_usernames', 'skipped'],
    ]);
  });
});

describe('a refused token stops the apply (issue 11 item 6, issue 12 item 7)', () => {
  const many = Array.from({ length: 12 }, (_, i) => `u${i}@corp.example.com`);

  it('a read-only token meets one 403, not one per user, and nothing more is sent', async () => {
    const w = await mock.start(
      many.map((email) => aSeedUser({ email })),
      { token: REGULAR_TOKEN },
    );
    const actions = many.flatMap((email): ActionInput[] => [
      { ...w.user(email), kind: 'set_computer_usernames', before: [], after: ['x'] },
      { ...w.user(email), kind: 'set_smartcards', before: [], after: [] },
    ]);

    const report = await applyPlan(planOf(actions), {
      api: mock.api,
      journal: new MemoryJournal(),
      concurrency: 8,
    });

    expect(writes().map((r) => r.status)).toEqual([403]);
    expect(report.stopped?.reason).toMatch(/read rights only/);
    expect(report.stopped?.hint).toMatch(/ADMIN or SUPER/);
    expect(report.failed).toBe(1);
    expect(report.results.filter((r) => r.outcome === 'skipped')).toHaveLength(actions.length - 1);
  });

  it('a 401 stops the apply at once', async () => {
    const w = await mock.start(
      many.map((email) => aSeedUser({ email })),
      { token: 'not-a-token' },
    );
    const actions = many.map((email): ActionInput => ({
      ...w.user(email),
      kind: 'set_computer_usernames',
      before: [],
      after: ['x'],
    }));

    const report = await applyPlan(planOf(actions), {
      api: mock.api,
      journal: new MemoryJournal(),
      concurrency: 8,
    });

    expect(writes().map((r) => r.status)).toEqual([401]);
    expect(report.stopped?.reason).toMatch(/refused the token \(401/);
  });

  it('an ADMIN token refused a privileged grant fails that action only', async () => {
    const w = await mock.start(
      [aSeedUser({ email: 'x@corp.example.com' }), aSeedUser({ email: 'y@corp.example.com' })],
      { token: ADMIN_TOKEN },
    );
    const x = w.user('x@corp.example.com');
    const y = w.user('y@corp.example.com');

    const report = await applyPlan(
      planOf([
        { ...x, kind: 'set_rank', userId: x.userId, before: null, after: 'ADMIN' },
        { ...y, kind: 'set_computer_usernames', before: [], after: ['why'] },
        { ...y, kind: 'set_rank', userId: y.userId, before: null, after: 'REGULAR' },
      ]),
      { api: mock.api, journal: new MemoryJournal(), concurrency: 1 },
    );

    expect(report.stopped).toBeUndefined();
    expect(report.results.map((r) => [r.action.email, r.action.kind, r.outcome])).toEqual([
      [x.email, 'set_rank', 'failed'],
      [y.email, 'set_computer_usernames', 'applied'],
      [y.email, 'set_rank', 'applied'],
    ]);
    expect(report.results[0]?.error).toMatch(/takes a SUPER token/);
  });
});
