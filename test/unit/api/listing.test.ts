import { afterEach, describe, expect, it, vi } from 'vitest';
import { ListedUser, ListingFormatError, parseListing } from '../../../src/api/schema.js';
import { harness, listed } from './harness.js';

const base = listed(1001);
const without = (key: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(base).filter(([k]) => k !== key));

describe('parseListing agrees with the ListedUser schema', () => {
  it.each([
    ['a full user', base, true],
    ['unknown extra fields', { ...base, department: 'R&D' }, true],
    ['no groups', without('groups'), true],
    ['null groups', { ...base, groups: null }, true],
    ['flat string groups', { ...base, groups: ['Employees'] }, true],
    [
      'null names',
      { ...base, first_name: null, last_name: null, name: null, username: null },
      true,
    ],
    ['no username', without('username'), true],
    ['no email_id', without('email_id'), false],
    ['email_id as a string', { ...base, email_id: '1001' }, false],
    ['email_id 0', { ...base, email_id: 0 }, false],
    ['fractional user_id', { ...base, user_id: 1.5 }, false],
    ['no user_id', without('user_id'), false],
    ['numeric email', { ...base, email: 7 }, false],
    ['unknown ad_status', { ...base, ad_status: 'LOCKED' }, false],
    ['no ad_status', without('ad_status'), false],
    ['numeric first_name', { ...base, first_name: 5 }, false],
    ['groups as a string', { ...base, groups: 'Employees' }, false],
    ['a number inside groups', { ...base, groups: [[1]] }, false],
    ['an object inside groups', { ...base, groups: [{}] }, false],
    ['null instead of a user', null, false],
    ['an array instead of a user', [base], false],
  ])('%s', (_name, item, valid) => {
    expect(ListedUser.safeParse(item).success).toBe(valid);
    if (valid) expect(parseListing([item], 'USER')).toHaveLength(1);
    else expect(() => parseListing([base, item], 'USER')).toThrow(/user \[1\]/);
  });

  it('refuses a body that is not an array', () => {
    expect(() => parseListing({ error: 'x' }, 'USER')).toThrow(ListingFormatError);
  });
});

describe('a 100k-user listing', () => {
  let active: ReturnType<typeof harness> | undefined;
  afterEach(async () => {
    await active?.agent.close();
    active = undefined;
  });

  const users = Array.from({ length: 100_000 }, (_, i) =>
    listed(1001 + i, { email: `user${i}@corp.example.com`, groups: [['Employees'], ['Staff']] }),
  );

  // Its speed (~100 ms; a zod pass per user is ~3x) is measured by bench/hot-paths.ts.
  it('parses with the hand-written check alone, no zod pass per user, keeping only what we use', () => {
    const raw: unknown = JSON.parse(JSON.stringify(users));
    const zod = [vi.spyOn(ListedUser, 'parse'), vi.spyOn(ListedUser, 'safeParse')];

    const parsed = parseListing(raw, 'USER');

    expect(parsed).toHaveLength(100_000);
    expect(parsed[99_999]).toEqual({
      emailId: 101_000,
      userId: 5_101_000,
      email: 'user99999@corp.example.com',
      firstName: 'Joe',
      lastName: 'Developer',
      name: 'Joe Developer',
      username: 'jdeveloper',
      adStatus: 'ACTIVE',
      tag: 'USER',
      groups: ['Employees', 'Staff'],
    });
    expect(Object.keys(parsed[0] ?? {})).toHaveLength(10);
    for (const spy of zod) expect(spy).not.toHaveBeenCalled();
  });

  it('comes through the client in one request', async () => {
    active = harness();
    const { client, on, sent } = active;
    on('GET', '/multipleusers', { status: 200, body: users });

    const listedUsers = await client.listUsers();

    expect(listedUsers).toHaveLength(100_000);
    expect(sent).toHaveLength(1);
  });
});
