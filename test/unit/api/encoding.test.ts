import { describe, expect, it } from 'vitest';
import type { ApiClient } from '../../../src/api/client.js';
import { asEmailId } from '../../../src/api/ids.js';
import { ApiError } from '../../../src/errors.js';
import { JOE, JOE_USER_ID, OK, TOKEN, formOf, useHarness, listed, type Reply } from './harness.js';

const setUp = useHarness();

interface Case {
  call: (api: ApiClient) => Promise<unknown>;
  method: string;
  path: string;
  query?: Record<string, string>;
  form?: Record<string, string>;
  reply?: Reply;
}

const cases: [string, Case][] = [
  [
    'listUsers()',
    { call: (api) => api.listUsers(), method: 'GET', path: '/multipleusers', query: {} },
  ],
  [
    'listUsers(GUEST, emailInName)',
    {
      call: (api) => api.listUsers({ tag: 'GUEST', emailInName: true }),
      method: 'GET',
      path: '/multipleusers',
      query: { email: 'true', user_tag: 'GUEST' },
    },
  ],
  [
    'getUser',
    {
      call: (api) => api.getUser(JOE),
      method: 'GET',
      path: '/user',
      query: { email_id: '1001' },
      reply: { status: 200, body: { policies: [], computer_usernames: [], smartcards: [] } },
    },
  ],
  [
    'getSmartcards',
    {
      call: (api) => api.getSmartcards(JOE),
      method: 'GET',
      path: '/modifysmartcard',
      query: { email_id: '1001' },
      reply: { status: 200, body: { email_id: 1001, smartcards: [] } },
    },
  ],
  [
    'setComputerUsernames',
    {
      call: (api) => api.setComputerUsernames(JOE, ['jdev', 'j.dev']),
      method: 'POST',
      path: '/modifyallusernames',
      form: {
        email_id: '1001',
        computer_usernames: '[{"computer_username":"jdev"},{"computer_username":"j.dev"}]',
      },
    },
  ],
  [
    'setComputerUsernames([]) clears',
    {
      call: (api) => api.setComputerUsernames(JOE, []),
      method: 'POST',
      path: '/modifyallusernames',
      form: { email_id: '1001', computer_usernames: '[]' },
    },
  ],
  [
    'setRank takes the user_id as admin_user_id',
    {
      call: (api) => api.setRank(JOE_USER_ID, 'ADMIN'),
      method: 'POST',
      path: '/modifyrank',
      form: { admin_user_id: '5000001', rank: 'ADMIN' },
    },
  ],
  [
    'setSmartcards',
    {
      call: (api) =>
        api.setSmartcards(JOE, [{ number: '123456', label: 'badge' }, { number: '7' }]),
      method: 'POST',
      path: '/modifysmartcard',
      form: {
        email_id: '1001',
        smartcards: '[{"number":"123456","label":"badge"},{"number":"7"}]',
      },
    },
  ],
  [
    'setSmartcards with allowDuplicates',
    {
      call: (api) => api.setSmartcards(JOE, [], { allowDuplicates: true }),
      method: 'POST',
      path: '/modifysmartcard',
      form: { email_id: '1001', smartcards: '[]', allow_duplicates: 'true' },
    },
  ],
  [
    'promoteGuest sends the email_id',
    {
      call: (api) => api.promoteGuest(JOE),
      method: 'POST',
      path: '/promoteguest',
      form: { email_id: '1001' },
    },
  ],
  [
    'setSuspended',
    {
      call: (api) => api.setSuspended(JOE, true, { observed: 'ACTIVE' }),
      method: 'POST',
      path: '/togglesuspension',
      form: { email_id: '1001' },
    },
  ],
  [
    'deleteUser',
    {
      call: (api) => api.deleteUser(JOE),
      method: 'DELETE',
      path: '/user',
      query: { email_id: '1001' },
    },
  ],
];

describe('request encoding', () => {
  it.each(cases)('%s', async (_name, c) => {
    const { client, sent, on } = setUp();
    on(c.method, c.path, c.reply ?? (c.path === '/multipleusers' ? { status: 200, body: [] } : OK));

    await c.call(client);

    expect(sent).toHaveLength(1);
    const request = sent[0];
    expect(request).toMatchObject({ method: c.method, path: c.path });
    expect(request?.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(request?.headers['accept']).toBe('application/json');
    if (c.form === undefined) {
      expect(request?.query).toEqual(c.query);
      expect(request?.body).toBeUndefined();
      expect(request?.headers['content-type']).toBeUndefined();
    } else {
      expect(request?.query).toEqual({});
      expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(formOf(request)).toEqual(c.form);
    }
  });

  it('keeps a path prefix of the base URL', async () => {
    const { client, sent, on } = setUp({ baseUrl: 'https://api.example.test/users-api/' });
    on('GET', '/users-api/multipleusers', { status: 200, body: [] });

    await client.listUsers();

    expect(sent[0]?.path).toBe('/users-api/multipleusers');
  });

  it('refuses an id that is not a positive integer before sending anything', async () => {
    const { client, sent } = setUp();
    // A state file read at runtime can hold anything the types promised it would not.
    const bad = Number.NaN as unknown as typeof JOE;
    await expect(client.getUser(bad)).rejects.toThrow(/email_id must be a positive integer/);
    expect(() => asEmailId(0)).toThrow(TypeError);
    expect(sent).toHaveLength(0);
  });
});

describe('response decoding', () => {
  it('maps a listing to OrgUsers, flattening groups and tagging the listing', async () => {
    const { client, on } = setUp();
    on('GET', '/multipleusers', {
      status: 200,
      body: [listed(1001, { groups: [['Employees'], ['Admins']], first_name: null, extra: 1 })],
    });

    const [joe] = await client.listUsers({ tag: 'GUEST' });

    expect(joe).toEqual({
      emailId: 1001,
      userId: 5_001_001,
      email: 'user1001@corp.example.com',
      firstName: '',
      lastName: 'Developer',
      name: 'Joe Developer',
      username: 'jdeveloper',
      adStatus: 'ACTIVE',
      tag: 'GUEST',
      groups: ['Employees', 'Admins'],
    });
  });

  it('flattens GET /user policies and renames fields', async () => {
    const { client, on } = setUp();
    on('GET', '/user', {
      status: 200,
      body: {
        policies: [['test_policy'], ['asdf']],
        computer_usernames: ['username'],
        smartcards: [{ label: 'Label', number: '42' }],
      },
    });

    expect(await client.getUser(JOE)).toEqual({
      policies: ['test_policy', 'asdf'],
      computerUsernames: ['username'],
      smartcards: [{ label: 'Label', number: '42' }],
    });
  });

  it('treats a 200 whose body has `error` as a failure', async () => {
    const { client, on, sent } = setUp();
    on('POST', '/modifyallusernames', { status: 200, body: { error: 'nope' } });

    const error = await client.setComputerUsernames(JOE, []).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 200,
      message: expect.stringContaining('nope') as unknown,
    });
    expect(sent).toHaveLength(1);
  });

  it('names the field when a listing element is not what the contract promises', async () => {
    const { client, on } = setUp();
    on('GET', '/multipleusers', {
      status: 200,
      body: [listed(1001), listed(1002, { ad_status: 'LOCKED' })],
    });

    await expect(client.listUsers()).rejects.toMatchObject({
      name: 'ApiError',
      path: '/multipleusers',
      message: expect.stringMatching(/user \[1\]\.ad_status/) as unknown,
    });
  });

  it('names the field when GET /user is malformed', async () => {
    const { client, on } = setUp();
    on('GET', '/user', { status: 200, body: { computer_usernames: 'jdev' } });

    await expect(client.getUser(JOE)).rejects.toThrow(/computer_usernames/);
  });

  it('reports a non-JSON 2xx (a proxy page) as a failure with a hint', async () => {
    const { client, agent, sent } = setUp();
    agent
      .get('https://api.example.test')
      .intercept({ method: 'POST', path: '/modifyrank' })
      .reply(200, '<html>Blocked by policy</html>', { headers: { 'content-type': 'text/html' } });

    const error = await client.setRank(JOE_USER_ID, 'REGULAR').catch((e: unknown) => e);

    expect(error).toMatchObject({ hint: expect.stringMatching(/proxy/) as unknown });
    expect(String(error)).toContain('Blocked by policy');
    expect(sent).toHaveLength(1);
  });
});
