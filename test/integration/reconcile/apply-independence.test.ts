import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../src/api/client.js';
import { applyPlan } from '../../../src/reconcile/apply.js';
import type { Action, Plan } from '../../../src/reconcile/model.js';
import type { MockServer } from '../../../src/mock/server.js';
import type { StatePatch } from '../../../src/state/store.js';
import {
  ADMIN_TOKEN,
  REGULAR_TOKEN,
  SUPER_TOKEN,
  aSeed,
  aSeedUser,
  startTestMock,
  stateUser,
  type SeedUserInput,
} from '../../support/mock.js';

let server: MockServer | undefined;
let api: ApiClient | undefined;
afterEach(async () => {
  await api?.close();
  await server?.close();
  api = undefined;
  server = undefined;
});

class MemoryJournal {
  readonly patches: StatePatch[] = [];
  record(patch: StatePatch): void {
    this.patches.push(patch);
  }
}

function aPlan(actions: Action[]): Plan {
  return {
    formatVersion: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    actions,
    notInOrganization: [],
    ambiguous: [],
    notes: [],
    timers: { started: {}, cleared: [] },
    summary: { directoryUsers: 0, organizationUsers: 0, managedUsers: 0, matched: 0, actions: {} },
  };
}

interface World {
  user(email: string): { email: string; emailId: number; userId: number; reason: string };
}

async function start(
  users: SeedUserInput[],
  options: { token?: string; faults?: unknown; settleMs?: number } = {},
): Promise<World> {
  server = await startTestMock(aSeed(users), options.faults);
  api = new ApiClient({
    baseUrl: server.url,
    token: options.token ?? SUPER_TOKEN,
    retry: { baseDelayMs: 1, maxDelayMs: 5, settleMs: options.settleMs ?? 1 },
  });
  const state = (await (await request(`${server.url}/_mock/state`)).body.json()) as {
    organizations: { users: { email: string; email_id: number; user_id: number }[] }[];
  };
  const all = state.organizations[0]!.users;
  return {
    user(email) {
      const u = all.find((x) => x.email === email)!;
      return { email, emailId: u.email_id, userId: u.user_id, reason: 'test' };
    },
  };
}

const writes = (): { method: string; path: string; status: number }[] =>
  server!.requests.filter((r) => r.method !== 'GET');

const LEAVER = 'leaver@corp.example.com';
const HOLDER = 'holder@corp.example.com';

describe('independent actions (issue 11 item 1)', () => {
  it('suspends a disabled user whose set_smartcards fails (card held by another user)', async () => {
    const w = await start([
      aSeedUser({ email: LEAVER }),
      aSeedUser({ email: HOLDER, smartcards: [{ number: '777' }] }),
    ]);
    const u = w.user(LEAVER);

    const report = await applyPlan(
      aPlan([
        { ...u, kind: 'set_smartcards', before: [], after: ['777'] },
        { ...u, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
      ]),
      { api: api!, journal: new MemoryJournal() },
    );

    expect(report.results.map((r) => [r.action.kind, r.outcome])).toEqual([
      ['suspend', 'applied'],
      ['set_smartcards', 'failed'],
    ]);
    expect((await stateUser(server!.url, LEAVER))?.ad_status).toBe('SUSPENDED');
  });

  it('suspends a disabled user whose set_computer_usernames fails', async () => {
    const w = await start([aSeedUser({ email: LEAVER })]);
    const u = w.user(LEAVER);

    const report = await applyPlan(
      aPlan([
        // An empty name is refused with a 400 by the API.
        { ...u, kind: 'set_computer_usernames', before: [], after: [' '] },
        { ...u, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
      ]),
      { api: api!, journal: new MemoryJournal() },
    );

    expect(report.results.map((r) => [r.action.kind, r.outcome])).toEqual([
      ['suspend', 'applied'],
      ['set_computer_usernames', 'failed'],
    ]);
    expect((await stateUser(server!.url, LEAVER))?.ad_status).toBe('SUSPENDED');
  });

  it("skips a guest's other writes when its promotion fails, but not its toggle", async () => {
    const w = await start([aSeedUser({ email: LEAVER, tag: 'USER', ad_status: 'SUSPENDED' })]);
    const u = w.user(LEAVER);

    const report = await applyPlan(
      aPlan([
        // Not a guest: /promoteguest answers 400.
        { ...u, kind: 'promote_guest', before: 'GUEST', after: 'USER' },
        { ...u, kind: 'unsuspend', before: 'SUSPENDED', after: 'ACTIVE' },
        { ...u, kind: 'set_computer_usernames', before: [], after: ['lv'] },
      ]),
      { api: api!, journal: new MemoryJournal() },
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
    const w = await start(
      many.map((email) => aSeedUser({ email })),
      { token: REGULAR_TOKEN },
    );
    const actions = many.flatMap((email): Action[] => [
      { ...w.user(email), kind: 'set_computer_usernames', before: [], after: ['x'] },
      { ...w.user(email), kind: 'set_smartcards', before: [], after: [] },
    ]);

    const report = await applyPlan(aPlan(actions), {
      api: api!,
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
    const w = await start(
      many.map((email) => aSeedUser({ email })),
      { token: 'not-a-token' },
    );
    const actions = many.map((email): Action => ({
      ...w.user(email),
      kind: 'set_computer_usernames',
      before: [],
      after: ['x'],
    }));

    const report = await applyPlan(aPlan(actions), {
      api: api!,
      journal: new MemoryJournal(),
      concurrency: 8,
    });

    expect(writes().map((r) => r.status)).toEqual([401]);
    expect(report.stopped?.reason).toMatch(/refused the token \(401/);
  });

  it('an ADMIN token refused a privileged grant fails that action only', async () => {
    const w = await start(
      [aSeedUser({ email: 'x@corp.example.com' }), aSeedUser({ email: 'y@corp.example.com' })],
      { token: ADMIN_TOKEN },
    );
    const x = w.user('x@corp.example.com');
    const y = w.user('y@corp.example.com');

    const report = await applyPlan(
      aPlan([
        { ...x, kind: 'set_rank', userId: x.userId, before: null, after: 'ADMIN' },
        { ...y, kind: 'set_computer_usernames', before: [], after: ['why'] },
        { ...y, kind: 'set_rank', userId: y.userId, before: null, after: 'REGULAR' },
      ]),
      { api: api!, journal: new MemoryJournal(), concurrency: 1 },
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
