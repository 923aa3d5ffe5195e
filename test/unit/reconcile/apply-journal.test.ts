import { describe, expect, it } from 'vitest';
import type { ToggleOutcome, UsersApi } from '../../../src/api/users-api.js';
import { asEmailId } from '../../../src/api/ids.js';
import type { OrgUser as ApiOrgUser } from '../../../src/api/schema.js';
import { applyPlan } from '../../../src/reconcile/apply.js';
import type { StatePatch } from '../../../src/state/store.js';
import { aPlan } from './builders.js';

const JOE = { email: 'joe@corp.example.com', emailId: asEmailId(1004), reason: 'disabled' };
const NOW = new Date('2026-03-01T10:00:00.000Z');

/** A fake API: Joe's listing status, and a toggle that answers `answer` (or throws it). */
function fakeApi(
  status: 'ACTIVE' | 'SUSPENDED',
  answer: ToggleOutcome | Error,
  journal: StatePatch[],
): { api: UsersApi; seenAtToggle: StatePatch[][]; listings: number } {
  const seenAtToggle: StatePatch[][] = [];
  const out = { api: undefined as unknown as UsersApi, seenAtToggle, listings: 0 };
  const listed = {
    emailId: JOE.emailId,
    userId: 5004,
    email: JOE.email,
    tag: 'USER',
    adStatus: status,
  };
  out.api = {
    listOrganization: () => {
      out.listings++;
      return Promise.resolve([listed as unknown as ApiOrgUser]);
    },
    setSuspended: () => {
      seenAtToggle.push([...journal]);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  } as unknown as UsersApi;
  return out;
}

const kinds = (patches: StatePatch[]): string[] =>
  patches.map((p) => (p.type === 'toggle-resolved' ? `resolved:${p.result}` : p.type));

describe('applyPlan journals each toggle around its request (issue 12 item 2)', () => {
  it.each([
    ['applied', ['user', 'toggle-sent', 'resolved:landed']],
    ['unclear', ['user', 'toggle-sent', 'resolved:unclear']],
  ] as const)('a suspend answered %s', async (answer, expected) => {
    const journal: StatePatch[] = [];
    const fake = fakeApi('ACTIVE', answer, journal);

    const report = await applyPlan(
      aPlan({ actions: [{ ...JOE, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' }] }),
      { api: fake.api, journal: { record: (p) => journal.push(p) }, clock: () => NOW },
    );

    expect(kinds(fake.seenAtToggle[0]!)).toEqual(['user', 'toggle-sent']);
    expect(kinds(journal)).toEqual(expected);
    expect(report.results[0]?.outcome).toBe(answer);
    expect(report.unclear).toBe(answer === 'unclear' ? 1 : 0);
  });

  it('a refused toggle is resolved not-landed and the suspension is not claimed', async () => {
    const journal: StatePatch[] = [];
    const fake = fakeApi('ACTIVE', new Error('refused'), journal);

    const report = await applyPlan(
      aPlan({ actions: [{ ...JOE, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' }] }),
      { api: fake.api, journal: { record: (p) => journal.push(p) }, clock: () => NOW },
    );

    expect(report.results[0]?.outcome).toBe('failed');
    expect(kinds(journal)).toEqual(['user', 'toggle-sent', 'resolved:not-landed', 'user']);
    expect(journal.at(-1)).toEqual({
      type: 'user',
      emailId: JOE.emailId,
      set: { email: JOE.email, suspendedByDirsync: undefined },
    });
  });

  it('sends no toggle when the status read at apply no longer calls for it', async () => {
    const journal: StatePatch[] = [];
    const fake = fakeApi('SUSPENDED', 'applied', journal);

    const report = await applyPlan(
      aPlan({ actions: [{ ...JOE, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' }] }),
      { api: fake.api, journal: { record: (p) => journal.push(p) }, clock: () => NOW },
    );

    expect(report.results[0]).toMatchObject({ outcome: 'skipped' });
    expect(fake.seenAtToggle).toEqual([]);
    expect(journal).toEqual([]);
  });
});

describe('the status read at apply (issue 12 item 4)', () => {
  const ANN = { email: 'ann@corp.example.com', emailId: asEmailId(1005), reason: 'disabled' };
  const listed = (u: { email: string; emailId: number }, email = u.email): ApiOrgUser =>
    ({
      emailId: u.emailId,
      userId: u.emailId + 4000,
      email,
      tag: 'USER',
      adStatus: 'ACTIVE',
    }) as unknown as ApiOrgUser;
  const suspend = (u: typeof JOE) =>
    ({ ...u, kind: 'suspend', before: 'ACTIVE', after: 'SUSPENDED' }) as const;

  it('sends no toggle when the email_id belongs to someone else in the read at apply', async () => {
    const toggled: number[] = [];
    const api = {
      listOrganization: () => Promise.resolve([listed(JOE, 'someone.else@corp.example.com')]),
      setSuspended: (id: number) => (toggled.push(id), Promise.resolve('applied')),
    } as unknown as UsersApi;

    const report = await applyPlan(aPlan({ actions: [suspend(JOE)] }), {
      api,
      journal: { record: () => undefined },
      clock: () => NOW,
    });

    expect(report.results[0]).toMatchObject({ outcome: 'skipped' });
    expect(report.results[0]?.error).toMatch(/now belongs to someone\.else@corp\.example\.com/);
    expect(toggled).toEqual([]);
  });

  it('reads the statuses again once the read is older than statusMaxAgeMs', async () => {
    let listings = 0;
    let ms = NOW.getTime();
    const api = {
      listOrganization: () => (listings++, Promise.resolve([listed(JOE), listed(ANN)])),
      setSuspended: () => Promise.resolve('applied'),
    } as unknown as UsersApi;

    await applyPlan(aPlan({ actions: [suspend(JOE), suspend(ANN)] }), {
      api,
      journal: { record: () => undefined },
      clock: () => new Date((ms += 2_000)),
      statusMaxAgeMs: 1_000,
    });

    expect(listings).toBe(2);
  });

  it('does not keep a failed status read: the next toggle reads again', async () => {
    let listings = 0;
    const api = {
      listOrganization: () =>
        ++listings === 1
          ? Promise.reject(new Error('connection reset'))
          : Promise.resolve([listed(JOE), listed(ANN)]),
      setSuspended: () => Promise.resolve('applied'),
    } as unknown as UsersApi;

    const report = await applyPlan(aPlan({ actions: [suspend(JOE), suspend(ANN)] }), {
      api,
      journal: { record: () => undefined },
      clock: () => NOW,
      concurrency: 1,
    });

    expect(report.results.map((r) => [r.action.email, r.outcome])).toEqual([
      [JOE.email, 'failed'],
      [ANN.email, 'applied'],
    ]);
    expect(listings).toBe(2);
  });
});
