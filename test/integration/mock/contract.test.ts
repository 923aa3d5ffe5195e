import { afterAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import type { MockServer } from '../../../src/mock/server.js';
import {
  ADMIN_TOKEN,
  OTHER_ORG_TOKEN,
  RawClient,
  REGULAR_TOKEN,
  SUPER_TOKEN,
  aSeed,
  aSeedUser,
  mockState,
  startTestMock,
  stateUser,
  type StateUser,
} from '../../support/mock.js';

/**
 * Contract tests of the mock Users API over real HTTP: one per endpoint behaviour and per
 * numbered contract note of docs/users-api.md. A fresh server per test keeps them independent.
 */
let server: MockServer;
let api: RawClient;

const seedUsers = [
  aSeedUser({
    email: 'joe@corp.example.com',
    first_name: 'Joe',
    last_name: 'Developer',
    username: 'jdeveloper',
    computer_usernames: ['jdev'],
    smartcards: [{ number: '123456', label: 'badge' }],
    groups: ['Employees'],
    policies: ['door-a', 'vpn'],
  }),
  aSeedUser({
    email: 'mia@corp.example.com',
    first_name: 'Mia',
    last_name: 'Ops',
    smartcards: [{ number: '777' }],
  }),
  aSeedUser({
    email: 'nina@corp.example.com',
    first_name: 'Nina',
    last_name: 'New',
    ad_status: 'PENDING',
  }),
  aSeedUser({
    email: 'gina@corp.example.com',
    first_name: 'Gina',
    last_name: 'Guest',
    tag: 'GUEST',
  }),
];

beforeEach(async () => {
  server = await startTestMock(aSeed(seedUsers));
  api = new RawClient(server.url, SUPER_TOKEN);
});
afterEach(async () => {
  await server.close();
});
afterAll(() => undefined);

async function user(email: string, org = 'corp'): Promise<StateUser> {
  const found = await stateUser(server.url, email, org);
  if (found === undefined) throw new Error(`${email} is not in the mock state`);
  return found;
}

type Listed = Record<string, unknown> & {
  email: string;
  email_id: number;
  user_id: number;
  name: string;
};

async function listing(client: RawClient, query: Record<string, string> = {}): Promise<Listed[]> {
  const res = await client.get('/multipleusers', query);
  expect(res.status).toBe(200);
  return res.body as Listed[];
}

/** Every endpoint with a request that would succeed for a SUPER caller. */
async function everyEndpoint(): Promise<
  [string, (c: RawClient) => Promise<{ status: number; body: unknown }>][]
> {
  const joe = await user('joe@corp.example.com');
  const gina = await user('gina@corp.example.com');
  const id = String(joe.email_id);
  return [
    ['GET /multipleusers', (c) => c.get('/multipleusers')],
    ['GET /user', (c) => c.get('/user', { email_id: id })],
    ['GET /modifysmartcard', (c) => c.get('/modifysmartcard', { email_id: id })],
    [
      'POST /modifyallusernames',
      (c) => c.postForm('/modifyallusernames', { email_id: id, computer_usernames: [] }),
    ],
    [
      'POST /modifyrank',
      (c) => c.postForm('/modifyrank', { admin_user_id: String(joe.user_id), rank: 'REGULAR' }),
    ],
    [
      'POST /modifysmartcard',
      (c) => c.postForm('/modifysmartcard', { email_id: id, smartcards: [] }),
    ],
    ['POST /promoteguest', (c) => c.postForm('/promoteguest', { email_id: String(gina.email_id) })],
    ['POST /togglesuspension', (c) => c.postForm('/togglesuspension', { email_id: id })],
    ['DELETE /user', (c) => c.delete('/user', { email_id: id })],
  ];
}

describe('note 1: authentication', () => {
  it('answers 401 with an error to every endpoint when the token is missing or unknown', async () => {
    for (const [name, call] of await everyEndpoint()) {
      for (const token of [undefined, 'not-a-token']) {
        const res = await call(api.withToken(token));
        expect(res.status, `${name} with token ${String(token)}`).toBe(401);
        expect(res.body).toEqual({ error: expect.any(String) as string });
      }
    }
    expect((await user('joe@corp.example.com')).ad_status).toBe('ACTIVE');
  });

  it('accepts only the Bearer scheme', async () => {
    const res = await api.withToken(undefined).send('GET', '/multipleusers', undefined, undefined);
    expect(res.status).toBe(401);
    const basic = await fetch(`${server.url}/multipleusers`, {
      headers: { authorization: `Basic ${SUPER_TOKEN}` },
    });
    expect(basic.status).toBe(401);
  });

  it('keeps organizations apart: a token sees and changes only its own organization', async () => {
    const other = api.withToken(OTHER_ORG_TOKEN);
    const emails = (await listing(other)).map((u) => u.email).sort();
    expect(emails).toEqual(['joe@corp.example.com', 'owner@other.example.org']);

    const corpJoe = await user('joe@corp.example.com');
    const otherJoe = await user('joe@corp.example.com', 'other');
    expect(otherJoe.email_id).not.toBe(corpJoe.email_id);

    for (const res of [
      await other.get('/user', { email_id: String(corpJoe.email_id) }),
      await other.postForm('/togglesuspension', { email_id: String(corpJoe.email_id) }),
      await other.postForm('/modifyrank', {
        admin_user_id: String(corpJoe.user_id),
        rank: 'ADMIN',
      }),
      await other.delete('/user', { email_id: String(corpJoe.email_id) }),
    ]) {
      expect(res.status).toBe(400);
    }
    // Deleting by email acts on the caller's organization only.
    expect((await other.delete('/user', { email: 'joe@corp.example.com' })).status).toBe(200);
    expect(await stateUser(server.url, 'joe@corp.example.com', 'other')).toBeUndefined();
    expect((await user('joe@corp.example.com')).ad_status).toBe('ACTIVE');
  });

  it('stops authenticating a token whose user was removed', async () => {
    const admin = await user('admin@corp.example.com');
    expect((await api.delete('/user', { email_id: String(admin.email_id) })).status).toBe(200);
    expect((await api.withToken(ADMIN_TOKEN).get('/multipleusers')).status).toBe(401);
  });
});

describe('note 2: caller rights', () => {
  it('lets a REGULAR caller read', async () => {
    const reader = api.withToken(REGULAR_TOKEN);
    const joe = await user('joe@corp.example.com');
    expect((await reader.get('/multipleusers')).status).toBe(200);
    expect((await reader.get('/user', { email_id: String(joe.email_id) })).status).toBe(200);
    expect((await reader.get('/modifysmartcard', { email_id: String(joe.email_id) })).status).toBe(
      200,
    );
  });

  it('refuses every write of a REGULAR caller with 403 and changes nothing', async () => {
    const before = await mockState(server.url);
    const reader = api.withToken(REGULAR_TOKEN);
    for (const [name, call] of (await everyEndpoint()).filter(([n]) => !n.startsWith('GET'))) {
      const res = await call(reader);
      expect(res.status, name).toBe(403);
      expect(res.body).toEqual({ error: expect.stringContaining('REGULAR') as string });
    }
    expect(await mockState(server.url)).toEqual(before);
  });

  it('lets an ADMIN do everything but grant or remove ADMIN and SUPER', async () => {
    const admin = api.withToken(ADMIN_TOKEN);
    const joe = await user('joe@corp.example.com');
    const owner = await user('owner@corp.example.com');
    const reader = await user('reader@corp.example.com');

    expect(
      (await admin.postForm('/modifyrank', { admin_user_id: String(joe.user_id), rank: 'ADMIN' }))
        .status,
    ).toBe(403);
    expect(
      (await admin.postForm('/modifyrank', { admin_user_id: String(joe.user_id), rank: 'SUPER' }))
        .status,
    ).toBe(403);
    expect(
      (
        await admin.postForm('/modifyrank', {
          admin_user_id: String(owner.user_id),
          rank: 'REGULAR',
        })
      ).status,
    ).toBe(403);
    expect((await admin.delete('/user', { email_id: String(owner.email_id) })).status).toBe(403);
    expect((await user('joe@corp.example.com')).rank).toBe('REGULAR');
    expect((await user('owner@corp.example.com')).rank).toBe('SUPER');

    expect(
      (await admin.postForm('/modifyrank', { admin_user_id: String(joe.user_id), rank: 'REGULAR' }))
        .status,
    ).toBe(200);
    expect(
      (await admin.postForm('/togglesuspension', { email_id: String(joe.email_id) })).status,
    ).toBe(200);
    expect((await admin.delete('/user', { email_id: String(reader.email_id) })).status).toBe(200);
    expect((await user('joe@corp.example.com')).ad_status).toBe('SUSPENDED');
  });

  it('lets a SUPER grant and remove ADMIN and SUPER', async () => {
    const joe = await user('joe@corp.example.com');
    const admin = await user('admin@corp.example.com');
    expect(
      (await api.postForm('/modifyrank', { admin_user_id: String(joe.user_id), rank: 'SUPER' }))
        .status,
    ).toBe(200);
    expect(
      (await api.postForm('/modifyrank', { admin_user_id: String(admin.user_id), rank: 'REGULAR' }))
        .status,
    ).toBe(200);
    expect((await user('joe@corp.example.com')).rank).toBe('SUPER');
    expect((await user('admin@corp.example.com')).rank).toBe('REGULAR');
  });

  it('follows the caller rank as it changes', async () => {
    const admin = await user('admin@corp.example.com');
    await api.postForm('/modifyrank', { admin_user_id: String(admin.user_id), rank: 'REGULAR' });
    const joe = await user('joe@corp.example.com');
    const res = await api
      .withToken(ADMIN_TOKEN)
      .postForm('/togglesuspension', { email_id: String(joe.email_id) });
    expect(res.status).toBe(403);
  });
});

describe('note 3: two id spaces', () => {
  it('gives every user different email_id and user_id values, from disjoint ranges', async () => {
    const state = await mockState(server.url);
    const users = state.organizations.flatMap((o) => o.users);
    const emailIds = new Set(users.map((u) => u.email_id));
    const userIds = new Set(users.map((u) => u.user_id));
    expect(emailIds.size).toBe(users.length);
    expect(userIds.size).toBe(users.length);
    for (const id of emailIds) expect(userIds.has(id)).toBe(false);
  });

  it('/modifyrank takes the user_id and refuses an email_id', async () => {
    const joe = await user('joe@corp.example.com');
    const wrong = await api.postForm('/modifyrank', {
      admin_user_id: String(joe.email_id),
      rank: 'ADMIN',
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ error: expect.stringContaining('user_id') as string });
    const right = await api.postForm('/modifyrank', {
      admin_user_id: String(joe.user_id),
      rank: 'ADMIN',
    });
    expect(right).toMatchObject({ status: 200, body: { success: expect.any(String) as string } });
    expect((await user('joe@corp.example.com')).rank).toBe('ADMIN');
  });

  it('every other endpoint takes the email_id and refuses a user_id', async () => {
    const joe = await user('joe@corp.example.com');
    const gina = await user('gina@corp.example.com');
    const byUserId = String(joe.user_id);
    expect((await api.get('/user', { email_id: byUserId })).status).toBe(400);
    expect((await api.get('/modifysmartcard', { email_id: byUserId })).status).toBe(400);
    expect((await api.postForm('/togglesuspension', { email_id: byUserId })).status).toBe(400);
    expect(
      (await api.postForm('/modifyallusernames', { email_id: byUserId, computer_usernames: [] }))
        .status,
    ).toBe(400);
    expect(
      (await api.postForm('/modifysmartcard', { email_id: byUserId, smartcards: [] })).status,
    ).toBe(400);
    expect((await api.delete('/user', { email_id: byUserId })).status).toBe(400);
    expect((await api.postForm('/promoteguest', { email_id: String(gina.user_id) })).status).toBe(
      400,
    );
    expect((await api.postForm('/promoteguest', { email_id: String(gina.email_id) })).status).toBe(
      200,
    );
    expect(await user('joe@corp.example.com')).toEqual(joe);
  });
});

describe('note 4: encoding', () => {
  it('reads form-encoded POST bodies with JSON-string arrays', async () => {
    const joe = await user('joe@corp.example.com');
    const res = await api.send(
      'POST',
      '/modifyallusernames',
      `email_id=${joe.email_id}&computer_usernames=${encodeURIComponent('[{"computer_username":"jd1"},{"computer_username":"jd2"}]')}`,
      'application/x-www-form-urlencoded',
    );
    expect(res.status).toBe(200);
    expect((await user('joe@corp.example.com')).computer_usernames).toEqual(['jd1', 'jd2']);
  });

  it.each([
    ['arrays as arrays', (n: string) => [{ number: n, label: 'x' }]],
    ['arrays as JSON strings', (n: string) => JSON.stringify([{ number: n, label: 'x' }])],
  ])('reads JSON bodies with %s', async (_name, cards) => {
    const joe = await user('joe@corp.example.com');
    const res = await api.postJson('/modifysmartcard', {
      email_id: joe.email_id,
      smartcards: cards('42'),
    });
    expect(res.status).toBe(200);
    expect((await user('joe@corp.example.com')).smartcards).toEqual([{ number: '42', label: 'x' }]);
  });

  it('reads GET and DELETE parameters from the query string, and POST parameters only from the body', async () => {
    const joe = await user('joe@corp.example.com');
    const inQuery = await api.send('POST', `/togglesuspension?email_id=${joe.email_id}`);
    expect(inQuery).toMatchObject({ status: 400, body: { error: 'email_id is required' } });
    expect((await api.get('/user', { email_id: String(joe.email_id) })).status).toBe(200);
  });

  it('refuses a malformed body with 400 or 415 and a message', async () => {
    const bad = await api.send('POST', '/togglesuspension', '{not json', 'application/json');
    expect(bad).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('JSON') as string },
    });
    const xml = await api.send('POST', '/togglesuspension', '<x/>', 'application/xml');
    expect(xml.status).toBe(415);
  });

  it('names the parameter and the problem in a 400', async () => {
    const joe = await user('joe@corp.example.com');
    const cases: [Promise<{ status: number; body: unknown }>, string][] = [
      [api.get('/user'), 'email_id is required'],
      [api.get('/user', { email_id: 'abc' }), 'email_id must be a positive integer'],
      [
        api.postForm('/modifyallusernames', { email_id: String(joe.email_id) }),
        'computer_usernames is required',
      ],
      [
        api.postForm('/modifyallusernames', {
          email_id: String(joe.email_id),
          computer_usernames: 'jdev',
        }),
        'computer_usernames must be a serialized JSON array',
      ],
      [
        api.postForm('/modifyallusernames', {
          email_id: String(joe.email_id),
          computer_usernames: [{ name: 'x' }],
        }),
        'computer_usernames[0]',
      ],
      [api.postForm('/modifyrank', { admin_user_id: String(joe.user_id) }), 'rank is required'],
      [
        api.postForm('/modifyrank', { admin_user_id: String(joe.user_id), rank: 'KING' }),
        'rank must be ADMIN, REGULAR or SUPER',
      ],
      [
        api.postForm('/modifysmartcard', {
          email_id: String(joe.email_id),
          smartcards: [{ number: '1' }],
          allow_duplicates: 'maybe',
        }),
        'allow_duplicates must be true or false',
      ],
      [api.get('/multipleusers', { user_tag: 'ROBOT' }), 'user_tag must be GUEST or USER'],
      [api.delete('/user'), 'email_id or email is required'],
    ];
    for (const [call, message] of cases) {
      const res = await call;
      expect(res.status, message).toBe(400);
      expect((res.body as { error: string }).error).toContain(message);
    }
  });

  it('answers 404 to an unknown path and 405 to a wrong method', async () => {
    expect((await api.get('/nope')).status).toBe(404);
    const res = await api.postForm('/multipleusers', {});
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET');
  });
});

describe('note 5: outcome', () => {
  it('answers success with a success key and failure with an error key', async () => {
    const joe = await user('joe@corp.example.com');
    const good = await api.postForm('/togglesuspension', { email_id: String(joe.email_id) });
    expect(good.status).toBe(200);
    expect(Object.keys(good.body as object)).toEqual(['success']);
    const bad = await api.postForm('/togglesuspension', { email_id: '999999' });
    expect(bad).toEqual({
      status: 400,
      headers: expect.any(Object) as object,
      body: { error: expect.stringContaining('999999') as string },
    });
  });
});

describe('note 6 and GET /multipleusers', () => {
  it('lists USERs by default and guests with user_tag=GUEST', async () => {
    const users = (await listing(api)).map((u) => u.email);
    expect(users).toEqual([
      'owner@corp.example.com',
      'admin@corp.example.com',
      'reader@corp.example.com',
      'joe@corp.example.com',
      'mia@corp.example.com',
      'nina@corp.example.com',
    ]);
    expect((await listing(api, { user_tag: 'GUEST' })).map((u) => u.email)).toEqual([
      'gina@corp.example.com',
    ]);
  });

  it('shows every field of the reference, with email always a field of its own', async () => {
    const joe = (await listing(api)).find((u) => u.email === 'joe@corp.example.com');
    const state = await user('joe@corp.example.com');
    expect(joe).toEqual({
      ad_status: 'ACTIVE',
      active_date: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) as string,
      confirmed: expect.any(String) as string,
      created: expect.any(String) as string,
      device_added: expect.any(String) as string,
      email: 'joe@corp.example.com',
      email_id: state.email_id,
      email_status: 'CONFIRMED',
      first_name: 'Joe',
      last_name: 'Developer',
      groups: [['Employees']],
      name: 'Joe Developer',
      user_id: state.user_id,
      username: 'jdeveloper',
      unique_id: expect.any(String) as string,
    });
  });

  it('puts the email into name with email=true', async () => {
    const joe = (await listing(api, { email: 'true' })).find(
      (u) => u.email === 'joe@corp.example.com',
    );
    expect(joe?.name).toBe('Joe Developer (joe@corp.example.com)');
    const plain = (await listing(api, { email: 'false' })).find(
      (u) => u.email === 'joe@corp.example.com',
    );
    expect(plain?.name).toBe('Joe Developer');
  });

  it('reflects changes in the next listing', async () => {
    const joe = await user('joe@corp.example.com');
    await listing(api); // warm any cache
    await api.postForm('/togglesuspension', { email_id: String(joe.email_id) });
    const after = (await listing(api, { email: 'true' })).find(
      (u) => u.email === 'joe@corp.example.com',
    );
    expect(after?.ad_status).toBe('SUSPENDED');
    expect((await listing(api)).find((u) => u.email === 'joe@corp.example.com')?.ad_status).toBe(
      'SUSPENDED',
    );
  });
});

describe('note 7: suspension', () => {
  it('flips ACTIVE and SUSPENDED, visible as ad_status; a second toggle undoes the first', async () => {
    const joe = await user('joe@corp.example.com');
    const id = String(joe.email_id);
    expect((await api.postForm('/togglesuspension', { email_id: id })).status).toBe(200);
    expect((await listing(api)).find((u) => u.email_id === joe.email_id)?.ad_status).toBe(
      'SUSPENDED',
    );
    expect((await api.postForm('/togglesuspension', { email_id: id })).status).toBe(200);
    expect((await listing(api)).find((u) => u.email_id === joe.email_id)?.ad_status).toBe('ACTIVE');
  });

  it('refuses to toggle a PENDING user with 400 and leaves it PENDING', async () => {
    const nina = await user('nina@corp.example.com');
    const res = await api.postForm('/togglesuspension', { email_id: String(nina.email_id) });
    expect(res).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('PENDING') as string },
    });
    expect((await user('nina@corp.example.com')).ad_status).toBe('PENDING');
  });
});

describe('note 8: rank is not visible', () => {
  it('shows rank in no read endpoint', async () => {
    const joe = await user('joe@corp.example.com');
    await api.postForm('/modifyrank', { admin_user_id: String(joe.user_id), rank: 'ADMIN' });
    const reads = [
      await api.get('/multipleusers'),
      await api.get('/multipleusers', { user_tag: 'GUEST' }),
      await api.get('/user', { email_id: String(joe.email_id) }),
      await api.get('/modifysmartcard', { email_id: String(joe.email_id) }),
    ];
    for (const res of reads) {
      expect(JSON.stringify(res.body)).not.toMatch(/"rank"|"ADMIN"/);
    }
  });
});

describe('note 9: replace semantics and smart cards', () => {
  it('/modifyallusernames replaces the whole list, and an empty array deletes all', async () => {
    const joe = await user('joe@corp.example.com');
    const id = String(joe.email_id);
    await api.postForm('/modifyallusernames', {
      email_id: id,
      computer_usernames: [{ computer_username: 'a' }, { computer_username: 'b' }],
    });
    expect((await user('joe@corp.example.com')).computer_usernames).toEqual(['a', 'b']);
    await api.postForm('/modifyallusernames', {
      email_id: id,
      computer_usernames: [{ computer_username: 'c' }],
    });
    expect((await api.get('/user', { email_id: id })).body).toMatchObject({
      computer_usernames: ['c'],
    });
    await api.postForm('/modifyallusernames', { email_id: id, computer_usernames: [] });
    expect((await user('joe@corp.example.com')).computer_usernames).toEqual([]);
  });

  it('POST /modifysmartcard replaces the whole list, and an empty array deletes all', async () => {
    const joe = await user('joe@corp.example.com');
    const id = String(joe.email_id);
    await api.postForm('/modifysmartcard', {
      email_id: id,
      smartcards: [{ number: '1', label: 'one' }, { number: '2' }],
    });
    expect((await api.get('/modifysmartcard', { email_id: id })).body).toEqual({
      email_id: joe.email_id,
      smartcards: [
        { label: 'one', number: '1' },
        { label: '', number: '2' },
      ],
    });
    await api.postForm('/modifysmartcard', { email_id: id, smartcards: [] });
    expect((await user('joe@corp.example.com')).smartcards).toEqual([]);
  });

  it.each([['12a4'], ['-1'], [''], [42]])(
    'refuses the card number %j with 400 and applies nothing',
    async (number) => {
      const joe = await user('joe@corp.example.com');
      const res = await api.postJson('/modifysmartcard', {
        email_id: joe.email_id,
        smartcards: [{ number: '9' }, { number }],
      });
      expect(res).toMatchObject({
        status: 400,
        body: { error: expect.stringContaining('smartcards[1].number') as string },
      });
      expect((await user('joe@corp.example.com')).smartcards).toEqual(joe.smartcards);
    },
  );

  it('refuses a number another user holds unless allow_duplicates is true', async () => {
    const joe = await user('joe@corp.example.com');
    const id = String(joe.email_id);
    const dup = await api.postForm('/modifysmartcard', {
      email_id: id,
      smartcards: [{ number: '777' }],
    });
    expect(dup).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('777') as string },
    });
    expect((await user('joe@corp.example.com')).smartcards).toEqual([
      { number: '123456', label: 'badge' },
    ]);

    const allowed = await api.postForm('/modifysmartcard', {
      email_id: id,
      smartcards: [{ number: '777' }],
      allow_duplicates: 'true',
    });
    expect(allowed.status).toBe(200);
    expect((await user('joe@corp.example.com')).smartcards).toEqual([{ number: '777', label: '' }]);
  });

  it('lets a user keep its own number, and frees a number its holder gave up', async () => {
    const joe = await user('joe@corp.example.com');
    const mia = await user('mia@corp.example.com');
    const keep = await api.postForm('/modifysmartcard', {
      email_id: String(joe.email_id),
      smartcards: [{ number: '123456', label: 'new' }],
    });
    expect(keep.status).toBe(200);
    await api.postForm('/modifysmartcard', { email_id: String(mia.email_id), smartcards: [] });
    const take = await api.postForm('/modifysmartcard', {
      email_id: String(joe.email_id),
      smartcards: [{ number: '777' }],
    });
    expect(take.status).toBe(200);
  });
});

describe('note 10 and DELETE /user', () => {
  it('removes the user from the listing; its email_id then answers 400 everywhere', async () => {
    const joe = await user('joe@corp.example.com');
    const id = String(joe.email_id);
    const res = await api.delete('/user', { email_id: id });
    expect(res).toMatchObject({
      status: 200,
      body: {
        success:
          'User joe@corp.example.com/jdeveloper was successfully deleted from your organization.',
      },
    });
    expect((await listing(api)).map((u) => u.email)).not.toContain('joe@corp.example.com');
    for (const [name, call] of await everyEndpointFor(id, String(joe.user_id))) {
      expect((await call()).status, name).toBe(400);
    }
  });

  async function everyEndpointFor(
    id: string,
    userId: string,
  ): Promise<[string, () => Promise<{ status: number }>][]> {
    return Promise.resolve([
      ['GET /user', () => api.get('/user', { email_id: id })],
      ['GET /modifysmartcard', () => api.get('/modifysmartcard', { email_id: id })],
      [
        'POST /modifyallusernames',
        () => api.postForm('/modifyallusernames', { email_id: id, computer_usernames: [] }),
      ],
      [
        'POST /modifyrank',
        () => api.postForm('/modifyrank', { admin_user_id: userId, rank: 'REGULAR' }),
      ],
      [
        'POST /modifysmartcard',
        () => api.postForm('/modifysmartcard', { email_id: id, smartcards: [] }),
      ],
      ['POST /promoteguest', () => api.postForm('/promoteguest', { email_id: id })],
      ['POST /togglesuspension', () => api.postForm('/togglesuspension', { email_id: id })],
      ['DELETE /user', () => api.delete('/user', { email_id: id })],
    ]);
  }

  it('deletes by email, case-insensitively, and frees the smart card numbers', async () => {
    expect((await api.delete('/user', { email: 'MIA@corp.example.com' })).status).toBe(200);
    expect(await stateUser(server.url, 'mia@corp.example.com')).toBeUndefined();
    const joe = await user('joe@corp.example.com');
    expect(
      (
        await api.postForm('/modifysmartcard', {
          email_id: String(joe.email_id),
          smartcards: [{ number: '777' }],
        })
      ).status,
    ).toBe(200);
  });

  it('lets email_id win when both are given', async () => {
    const joe = await user('joe@corp.example.com');
    const res = await api.delete('/user', {
      email_id: String(joe.email_id),
      email: 'mia@corp.example.com',
    });
    expect(res.status).toBe(200);
    expect(await stateUser(server.url, 'joe@corp.example.com')).toBeUndefined();
    expect(await stateUser(server.url, 'mia@corp.example.com')).toBeDefined();
  });
});

describe('GET /user, GET /modifysmartcard and POST /promoteguest', () => {
  it('GET /user returns policies, computer usernames and smart cards', async () => {
    const joe = await user('joe@corp.example.com');
    const res = await api.get('/user', { email_id: String(joe.email_id) });
    expect(res).toMatchObject({
      status: 200,
      body: {
        policies: [['door-a'], ['vpn']],
        computer_usernames: ['jdev'],
        smartcards: [{ label: 'badge', number: '123456' }],
      },
    });
  });

  it('GET /modifysmartcard returns the email_id and the cards', async () => {
    const joe = await user('joe@corp.example.com');
    const res = await api.get('/modifysmartcard', { email_id: String(joe.email_id) });
    expect(res.body).toEqual({
      email_id: joe.email_id,
      smartcards: [{ label: 'badge', number: '123456' }],
    });
  });

  it('promotes a GUEST to USER, moving it between the listings; a USER is refused', async () => {
    const gina = await user('gina@corp.example.com');
    expect((await api.postForm('/promoteguest', { email_id: String(gina.email_id) })).status).toBe(
      200,
    );
    expect((await listing(api)).map((u) => u.email)).toContain('gina@corp.example.com');
    expect(await listing(api, { user_tag: 'GUEST' })).toEqual([]);
    const again = await api.postForm('/promoteguest', { email_id: String(gina.email_id) });
    expect(again).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('not a GUEST') as string },
    });
  });
});

describe('test surface', () => {
  it('logs every API request in order with its params and status, never the token', async () => {
    const joe = await user('joe@corp.example.com');
    await api.get('/multipleusers', { email: 'true' });
    await api.postForm('/togglesuspension', { email_id: String(joe.email_id) });
    await api.withToken('wrong').get('/multipleusers');
    const res = await fetch(`${server.url}/_mock/requests`);
    const log = (await res.json()) as unknown[];
    expect(log).toEqual([
      { method: 'GET', path: '/multipleusers', params: { email: 'true' }, status: 200 },
      {
        method: 'POST',
        path: '/togglesuspension',
        params: { email_id: String(joe.email_id) },
        status: 200,
      },
      { method: 'GET', path: '/multipleusers', params: {}, status: 401 },
    ]);
    expect(JSON.stringify(log)).not.toContain(SUPER_TOKEN);
    await fetch(`${server.url}/_mock/requests`, { method: 'DELETE' });
    expect(await (await fetch(`${server.url}/_mock/requests`)).json()).toEqual([]);
  });

  it('shows the whole state shaped like the seed plus ids', async () => {
    const state = await mockState(server.url);
    expect(state.organizations.map((o) => o.name)).toEqual(['corp', 'other']);
    expect(await user('joe@corp.example.com')).toMatchObject({
      email: 'joe@corp.example.com',
      email_id: expect.any(Number) as number,
      user_id: expect.any(Number) as number,
      rank: 'REGULAR',
      tag: 'USER',
      ad_status: 'ACTIVE',
      computer_usernames: ['jdev'],
      smartcards: [{ number: '123456', label: 'badge' }],
    });
  });
});
