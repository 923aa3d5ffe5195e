import { describe, expect, it } from 'vitest';
import { applyPlan } from '../../../src/reconcile/apply.js';
import type { OrgUser } from '../../../src/reconcile/model.js';
import { aSeedUser, stateUser } from '../../support/mock.js';
import { MemoryJournal, mockApiPerTest, planOf, type SeededUser } from './harness.js';

const mock = mockApiPerTest();

async function setup(): Promise<{ ids: Record<string, Pick<SeededUser, 'emailId' | 'userId'>> }> {
  const w = await mock.start([
    aSeedUser({ email: 'a@corp.example.com' }),
    aSeedUser({ email: 'b@corp.example.com', smartcards: [{ number: '42' }] }),
    aSeedUser({ email: 'c@corp.example.com', ad_status: 'SUSPENDED' }),
  ]);
  const ids: Record<string, Pick<SeededUser, 'emailId' | 'userId'>> = {};
  for (const e of ['a', 'b', 'c']) ids[e] = w.user(`${e}@corp.example.com`);
  return { ids };
}

describe('applyPlan against the mock API', () => {
  it('keeps going after a failed action, and journals each success', async () => {
    const { ids } = await setup();
    const journal = new MemoryJournal();
    const a = { email: 'a@corp.example.com', emailId: ids['a']!.emailId, reason: 'test' };
    const b = { email: 'b@corp.example.com', emailId: ids['b']!.emailId, reason: 'test' };
    const report = await applyPlan(
      planOf([
        // 42 is b's card: refused with 400 (no allow_duplicates); a's rank does not depend on it.
        { ...a, kind: 'set_smartcards', before: [], after: ['42'] },
        { ...a, kind: 'set_rank', userId: ids['a']!.userId, before: null, after: 'ADMIN' },
        { ...b, kind: 'set_computer_usernames', before: [], after: ['bee'] },
        { ...b, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
      ]),
      { api: mock.api, journal },
    );
    expect(report.failed).toBe(1);
    expect(report.results.map((r) => [r.action.kind, r.outcome])).toEqual(
      expect.arrayContaining([
        ['set_smartcards', 'failed'],
        ['set_rank', 'applied'],
        ['set_computer_usernames', 'applied'],
        ['suspend', 'applied'],
      ]),
    );
    expect(report.results.find((r) => r.outcome === 'failed')?.error).toContain('42');
    expect(await stateUser(mock.server.url, 'a@corp.example.com')).toMatchObject({
      rank: 'ADMIN',
      smartcards: [],
    });
    expect(await stateUser(mock.server.url, 'b@corp.example.com')).toMatchObject({
      computer_usernames: ['bee'],
      ad_status: 'SUSPENDED',
    });
    expect(journal.patches).toEqual(
      expect.arrayContaining([
        { type: 'user', emailId: b.emailId, set: { email: b.email, computerUsernames: ['bee'] } },
        { type: 'user', emailId: b.emailId, set: { email: b.email, suspendedByDirsync: true } },
        { type: 'user', emailId: a.emailId, set: { email: a.email, rank: 'ADMIN' } },
      ]),
    );
  });

  it('skips the actions of a reviewed plan whose target changed since it was made', async () => {
    const { ids } = await setup();
    const c = { email: 'c@corp.example.com', emailId: ids['c']!.emailId, reason: 'test' };
    const now: OrgUser[] = [
      {
        emailId: c.emailId,
        userId: ids['c']!.userId,
        email: c.email,
        tag: 'USER',
        adStatus: 'SUSPENDED',
      },
    ];
    const report = await applyPlan(
      planOf([
        { ...c, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
        { ...c, kind: 'set_rank', userId: ids['c']!.userId, before: 'ADMIN', after: 'REGULAR' },
        {
          email: 'gone@corp.example.com',
          emailId: 999999,
          reason: 'test',
          kind: 'remove',
          before: 'ACTIVE',
          after: null,
        },
      ]),
      {
        api: mock.api,
        journal: new MemoryJournal(),
        currentOrganization: new Map(now.map((u) => [u.emailId, u])),
        currentRanks: new Map([[c.emailId, 'REGULAR']]),
      },
    );
    expect(report.results.map((r) => [r.action.kind, r.outcome, r.error])).toEqual([
      ['suspend', 'skipped', 'the user is now SUSPENDED'],
      ['set_rank', 'skipped', 'the rank on record is now REGULAR, not ADMIN'],
      ['remove', 'skipped', 'the user is no longer in the organization'],
    ]);
    expect(mock.server.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it("skips reviewed actions today's read no longer calls for, or whose email_id changed hands", async () => {
    const { ids } = await setup();
    const a = { email: 'a@corp.example.com', emailId: ids['a']!.emailId, reason: 'test' };
    const b = { email: 'b@corp.example.com', emailId: ids['b']!.emailId, reason: 'test' };
    const now: OrgUser[] = [
      {
        emailId: a.emailId,
        userId: ids['a']!.userId,
        email: a.email,
        tag: 'USER',
        adStatus: 'ACTIVE',
      },
      {
        emailId: b.emailId,
        userId: ids['b']!.userId,
        email: 'someone.else@corp.example.com',
        tag: 'USER',
        adStatus: 'ACTIVE',
      },
    ];
    const report = await applyPlan(
      planOf([
        // a is back in the directory: today's plan has no removal for a.
        { ...a, kind: 'remove', before: 'ACTIVE', after: null },
        { ...b, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' },
      ]),
      {
        api: mock.api,
        journal: new MemoryJournal(),
        currentOrganization: new Map(now.map((u) => [u.emailId, u])),
        currentlyWanted: new Set(),
      },
    );
    expect(report.results.map((r) => [r.action.kind, r.outcome, r.error])).toEqual([
      ['remove', 'skipped', "today's read no longer calls for it"],
      ['suspend', 'skipped', `email_id ${b.emailId} now belongs to someone.else@corp.example.com`],
    ]);
    expect(mock.server.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('starts no new action once stopped, so in-flight ones can finish and be journaled', async () => {
    const { ids } = await setup();
    const stop = new AbortController();
    stop.abort();
    const a = { email: 'a@corp.example.com', emailId: ids['a']!.emailId, reason: 'test' };
    const report = await applyPlan(
      planOf([{ ...a, kind: 'set_computer_usernames', before: [], after: ['x'] }]),
      {
        api: mock.api,
        journal: new MemoryJournal(),
        signal: stop.signal,
      },
    );
    expect(report.results[0]).toMatchObject({
      outcome: 'skipped',
      error: expect.stringContaining('shutdown') as string,
    });
    expect(mock.server.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });
});
