import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/errors.js';
import { asEmailId, asUserId } from '../../../src/api/ids.js';
import type { MockServer } from '../../../src/mock/server.js';
import {
  ADMIN_TOKEN,
  REGULAR_TOKEN,
  aSeed,
  aSeedUser,
  clientFor,
  idsOf,
  startMock,
} from './mock-fixture.js';

const seed = aSeed([
  aSeedUser({
    email: 'joe@corp.example.com',
    first_name: 'Joe',
    last_name: 'Dev',
    username: 'jdev',
    computer_usernames: ['jdev'],
    smartcards: [{ number: '123456', label: 'badge' }],
    groups: ['Employees'],
    policies: ['door-a'],
  }),
  aSeedUser({ email: 'gail@corp.example.com', first_name: 'Gail', tag: 'GUEST' }),
  aSeedUser({ email: 'sam@corp.example.com', ad_status: 'SUSPENDED' }),
  aSeedUser({ email: 'pat@corp.example.com', ad_status: 'PENDING' }),
]);

let server: MockServer | undefined;
const closers: (() => Promise<void>)[] = [];

async function setUp(): Promise<MockServer> {
  const started = await startMock(seed);
  server = started;
  return started;
}

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await server?.close();
  server = undefined;
});

function client(s: MockServer, token?: string): ReturnType<typeof clientFor>['client'] {
  const { client: c } = clientFor(s, token === undefined ? {} : { token });
  closers.push(() => c.close());
  return c;
}

describe('ApiClient against the mock Users API', () => {
  it('lists users and guests separately, with both ids kept apart', async () => {
    const s = await setUp();
    const api = client(s);

    const users = await api.listUsers();
    const guests = await api.listUsers({ tag: 'GUEST' });

    const joe = users.find((u) => u.email === 'joe@corp.example.com');
    expect(joe).toEqual({
      emailId: idsOf(s, 'joe@corp.example.com').emailId,
      userId: idsOf(s, 'joe@corp.example.com').userId,
      email: 'joe@corp.example.com',
      firstName: 'Joe',
      lastName: 'Dev',
      name: 'Joe Dev',
      username: 'jdev',
      adStatus: 'ACTIVE',
      tag: 'USER',
      groups: ['Employees'],
    });
    expect(joe?.emailId).not.toBe(joe?.userId);
    expect(guests.map((g) => [g.email, g.tag])).toEqual([['gail@corp.example.com', 'GUEST']]);
    expect(users.map((u) => u.email)).not.toContain('gail@corp.example.com');
  });

  it('lists the whole organization and puts the email in the name on request', async () => {
    const s = await setUp();
    const all = await client(s).listOrganization({ emailInName: true });
    expect(all).toHaveLength(7);
    expect(all.find((u) => u.tag === 'GUEST')?.name).toBe('Gail User (gail@corp.example.com)');
  });

  it('reads one user and their smart cards', async () => {
    const s = await setUp();
    const api = client(s);
    const { emailId } = idsOf(s, 'joe@corp.example.com');

    expect(await api.getUser(emailId)).toEqual({
      policies: ['door-a'],
      computerUsernames: ['jdev'],
      smartcards: [{ number: '123456', label: 'badge' }],
    });
    expect(await api.getSmartcards(emailId)).toEqual([{ number: '123456', label: 'badge' }]);
  });

  it('replaces computer usernames, smart cards and rank', async () => {
    const s = await setUp();
    const api = client(s);
    const { emailId, userId } = idsOf(s, 'joe@corp.example.com');

    await api.setComputerUsernames(emailId, ['jdev', 'joe.dev']);
    await api.setSmartcards(emailId, [{ number: '42', label: 'new' }, { number: '43' }]);
    await api.setRank(userId, 'ADMIN');

    const joe = s.store.organizations[0]?.findByEmail('joe@corp.example.com');
    expect(joe?.computer_usernames).toEqual(['jdev', 'joe.dev']);
    expect(joe?.smartcards).toEqual([
      { number: '42', label: 'new' },
      { number: '43', label: '' },
    ]);
    expect(joe?.rank).toBe('ADMIN');

    await api.setComputerUsernames(emailId, []);
    await api.setSmartcards(emailId, []);
    expect(joe?.computer_usernames).toEqual([]);
    expect(joe?.smartcards).toEqual([]);
  });

  it('sends a card number another user holds only with allowDuplicates', async () => {
    const s = await setUp();
    const api = client(s);
    const sam = idsOf(s, 'sam@corp.example.com').emailId;

    await expect(api.setSmartcards(sam, [{ number: '123456' }])).rejects.toMatchObject({
      status: 400,
    });
    await api.setSmartcards(sam, [{ number: '123456' }], { allowDuplicates: true });
    expect(s.store.organizations[0]?.findByEmail('sam@corp.example.com')?.smartcards).toEqual([
      { number: '123456', label: '' },
    ]);
  });

  it('fails, without retrying, when an email_id is sent where a user_id belongs', async () => {
    const s = await setUp();
    const api = client(s);
    const { emailId } = idsOf(s, 'joe@corp.example.com');

    // The types forbid this; a state file read at runtime could still do it.
    const error = await api.setRank(asUserId(emailId), 'ADMIN').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ method: 'POST', path: '/modifyrank', status: 400 });
    expect(s.requests.filter((r) => r.path === '/modifyrank')).toHaveLength(1);
  });

  it('promotes a guest, suspends and unsuspends, and deletes a user', async () => {
    const s = await setUp();
    const api = client(s);
    const org = s.store.organizations[0];
    const gail = idsOf(s, 'gail@corp.example.com').emailId;
    const joe = idsOf(s, 'joe@corp.example.com').emailId;
    const sam = idsOf(s, 'sam@corp.example.com').emailId;

    expect(await api.promoteGuest(gail)).toBe('applied');
    expect(org?.findByEmail('gail@corp.example.com')?.tag).toBe('USER');

    expect(await api.setSuspended(joe, true, { observed: 'ACTIVE' })).toBe('applied');
    expect(org?.findByEmail('joe@corp.example.com')?.ad_status).toBe('SUSPENDED');
    // Without `observed` the client reads the listing first, and sends nothing when it holds.
    expect(await api.setSuspended(joe, true)).toBe('unchanged');
    expect(await api.setSuspended(sam, false)).toBe('applied');
    expect(org?.findByEmail('sam@corp.example.com')?.ad_status).toBe('ACTIVE');
    expect(s.requests.filter((r) => r.path === '/togglesuspension')).toHaveLength(2);

    expect(await api.deleteUser(joe)).toBe('applied');
    expect(org?.findByEmail('joe@corp.example.com')).toBeUndefined();
    // Contract note 10: a deleted email_id answers 400 everywhere, and 400 is not retried.
    await expect(api.getUser(joe)).rejects.toMatchObject({ status: 400, path: '/user' });
    expect(s.requests.filter((r) => r.method === 'GET' && r.path === '/user')).toHaveLength(1);
  });

  it('refuses to suspend a PENDING user without sending a toggle', async () => {
    const s = await setUp();
    const api = client(s);
    const pat = idsOf(s, 'pat@corp.example.com').emailId;

    await expect(api.setSuspended(pat, true)).rejects.toThrow(/PENDING/);
    expect(await api.setSuspended(pat, false)).toBe('unchanged');
    expect(s.requests.filter((r) => r.path === '/togglesuspension')).toHaveLength(0);
  });

  it('reports an unknown email_id as a 400 ApiError', async () => {
    const s = await setUp();
    await expect(client(s).setComputerUsernames(asEmailId(999), ['x'])).rejects.toMatchObject({
      name: 'ApiError',
      method: 'POST',
      path: '/modifyallusernames',
      status: 400,
      message: expect.stringContaining('no user with email_id 999') as unknown,
    });
  });

  it.each([
    ['an unknown token', 'not-a-token', 401],
    ['a REGULAR caller', REGULAR_TOKEN, 403],
  ])('does not retry %s (%d) and says how to fix it', async (_what, token, status) => {
    const s = await setUp();
    const error = await client(s, token)
      .setComputerUsernames(idsOf(s, 'joe@corp.example.com').emailId, ['x'])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status, hint: expect.any(String) as unknown });
    expect(s.requests).toHaveLength(1);
  });

  it('surfaces the rank rule of an ADMIN caller as a 403', async () => {
    const s = await setUp();
    const { userId } = idsOf(s, 'joe@corp.example.com');
    await expect(client(s, ADMIN_TOKEN).setRank(userId, 'SUPER')).rejects.toMatchObject({
      status: 403,
      message: expect.stringContaining('only a SUPER') as unknown,
    });
  });
});
