import { errors } from 'undici';
import { describe, expect, it } from 'vitest';
import { FreshRead } from '../../../src/api/fresh-read.js';
import { ApiError } from '../../../src/errors.js';
import { JOE, LOST, OK, useHarness, listed, type Reply } from './harness.js';

const setUp = useHarness();

const listing = (...users: Record<string, unknown>[]): Reply => ({ status: 200, body: users });
const joeAs = (adStatus: string): Record<string, unknown> => listed(1001, { ad_status: adStatus });
const paths = (sent: { method: string; path: string }[]): string[] =>
  sent.map((r) => `${r.method} ${r.path}`);

describe('setSuspended: a toggle is never repeated blindly', () => {
  it('after a lost answer, confirms the change by a re-read and does not toggle again', async () => {
    const { client, on, sent } = setUp();
    on('POST', '/togglesuspension', LOST);
    on('GET', '/multipleusers', listing(listed(1000), joeAs('SUSPENDED')));

    expect(await client.setSuspended(JOE, true, { observed: 'ACTIVE' })).toBe('applied');
    expect(paths(sent)).toEqual(['POST /togglesuspension', 'GET /multipleusers']);
  });

  it('after a 503 (the service said it did not do it) with the state still wrong, toggles once more', async () => {
    const { client, on, sent } = setUp();
    on('POST', '/togglesuspension', { status: 503, body: { error: 'overloaded' } }, OK);
    on('GET', '/multipleusers', listing(joeAs('SUSPENDED')));

    expect(await client.setSuspended(JOE, false, { observed: 'SUSPENDED' })).toBe('applied');
    expect(paths(sent)).toEqual([
      'POST /togglesuspension',
      'GET /multipleusers',
      'POST /togglesuspension',
    ]);
  });

  it.each([
    ['a 502', { status: 502 }],
    ['a 504', { status: 504 }],
    ['a lost answer', LOST],
    ['a timeout (no headers in time)', { error: new errors.HeadersTimeoutError() }],
  ])(
    'after %s with the state still wrong, never toggles again: the outcome is unclear',
    async (_what, failure) => {
      const { client, on, sent } = setUp();
      on('POST', '/togglesuspension', failure);
      on('GET', '/multipleusers', listing(joeAs('SUSPENDED')));

      expect(await client.setSuspended(JOE, false, { observed: 'SUSPENDED' })).toBe('unclear');
      expect(paths(sent)).toEqual(['POST /togglesuspension', 'GET /multipleusers']);
    },
  );

  it('re-reads past caches: the check after a lost answer asks for no-cache', async () => {
    const { client, on, sent } = setUp();
    on('POST', '/togglesuspension', LOST);
    on('GET', '/multipleusers', listing(joeAs('SUSPENDED')));

    await client.setSuspended(JOE, true, { observed: 'ACTIVE' });

    expect(sent[1]?.headers).toMatchObject({ 'cache-control': 'no-cache', pragma: 'no-cache' });
  });

  it('after a 429 (nothing applied) retries without a re-read', async () => {
    const { client, on, sent } = setUp();
    on('POST', '/togglesuspension', { status: 429, headers: { 'retry-after': '1' } }, OK);

    await client.setSuspended(JOE, true, { observed: 'ACTIVE' });

    expect(paths(sent)).toEqual(['POST /togglesuspension', 'POST /togglesuspension']);
  });

  it('finds a guest in the GUEST listing', async () => {
    const { client, on, sent } = setUp();
    on('POST', '/togglesuspension', LOST);
    on('GET', '/multipleusers', listing(listed(1000)), listing(joeAs('SUSPENDED')));

    expect(await client.setSuspended(JOE, true, { observed: 'ACTIVE' })).toBe('applied');
    expect(sent.map((r) => r.query)).toEqual([{}, {}, { user_tag: 'GUEST' }]);
  });

  it('reads the state first when not told it, and sends nothing if it already holds', async () => {
    const { client, on, sent } = setUp();
    on('GET', '/multipleusers', listing(joeAs('SUSPENDED')));

    expect(await client.setSuspended(JOE, true)).toBe('unchanged');
    expect(paths(sent)).toEqual(['GET /multipleusers']);
  });

  it('sends nothing when the observed state already holds', async () => {
    const { client, sent } = setUp();
    expect(await client.setSuspended(JOE, false, { observed: 'ACTIVE' })).toBe('unchanged');
    expect(await client.setSuspended(JOE, false, { observed: 'PENDING' })).toBe('unchanged');
    expect(sent).toEqual([]);
  });

  it('refuses to suspend a PENDING user', async () => {
    const { client, sent } = setUp();
    await expect(client.setSuspended(JOE, true, { observed: 'PENDING' })).rejects.toThrow(ApiError);
    expect(sent).toEqual([]);
  });

  it('fails, without toggling again, when the user vanished meanwhile', async () => {
    const { client, on } = setUp();
    on('POST', '/togglesuspension', LOST);
    on('GET', '/multipleusers', listing(), listing());

    await expect(client.setSuspended(JOE, true, { observed: 'ACTIVE' })).rejects.toThrow(
      /neither the USER nor the GUEST listing/,
    );
  });

  it('when the re-read itself fails, the outcome is unclear and nothing is sent again', async () => {
    const { client, on, sent } = setUp({ retry: { maxAttempts: 2 } });
    on('POST', '/togglesuspension', LOST);
    on('GET', '/multipleusers', { status: 401, body: { error: 'token revoked' } });

    expect(await client.setSuspended(JOE, true, { observed: 'ACTIVE' })).toBe('unclear');
    expect(paths(sent)).toEqual(['POST /togglesuspension', 'GET /multipleusers']);
  });

  it('out of attempts with the outcome unclear, looks once more before failing', async () => {
    const { client, on, sent } = setUp({ retry: { maxAttempts: 2 } });
    on('POST', '/togglesuspension', { status: 503 }, LOST);
    on('GET', '/multipleusers', listing(joeAs('ACTIVE')), listing(joeAs('SUSPENDED')));

    expect(await client.setSuspended(JOE, true, { observed: 'ACTIVE' })).toBe('applied');
    expect(paths(sent)).toEqual([
      'POST /togglesuspension',
      'GET /multipleusers',
      'POST /togglesuspension',
      'GET /multipleusers',
    ]);
  });

  it('out of attempts and unable to look, the outcome is unclear', async () => {
    const { client, on, sent } = setUp({ retry: { maxAttempts: 1 } });
    on('POST', '/togglesuspension', LOST);
    on('GET', '/multipleusers', { status: 401, body: { error: 'token revoked' } });

    expect(await client.setSuspended(JOE, true, { observed: 'ACTIVE' })).toBe('unclear');
    expect(paths(sent)).toEqual(['POST /togglesuspension', 'GET /multipleusers']);
  });

  it('promotion after a lost answer, when the re-read fails, still says it may or may not have landed', async () => {
    const { client, on } = setUp({ retry: { maxAttempts: 2 } });
    on('POST', '/promoteguest', LOST);
    on('GET', '/multipleusers', { status: 401, body: { error: 'token revoked' } });

    const error = await client.promoteGuest(JOE).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      path: '/promoteguest',
      hint: expect.stringMatching(/may or may not have been applied/) as unknown,
    });
  });

  it('shares one re-read among toggles that lost their answers together', async () => {
    const { client, on, sent } = setUp();
    on('POST', '/togglesuspension', LOST, LOST, LOST);
    on(
      'GET',
      '/multipleusers',
      listing(
        listed(1001, { ad_status: 'SUSPENDED' }),
        listed(1002, { ad_status: 'SUSPENDED' }),
        listed(1003, { ad_status: 'SUSPENDED' }),
      ),
    );
    const ids = [1001, 1002, 1003].map((n) => n as typeof JOE);

    const outcomes = await Promise.all(
      ids.map((id) => client.setSuspended(id, true, { observed: 'ACTIVE' })),
    );

    expect(outcomes).toEqual(['applied', 'applied', 'applied']);
    expect(sent.filter((r) => r.path === '/multipleusers')).toHaveLength(1);
  });
});

describe('promoteGuest and deleteUser check before repeating', () => {
  it('promotion: a lost answer and the user now listed as USER is success', async () => {
    const { client, on, sent } = setUp();
    on('POST', '/promoteguest', LOST);
    on('GET', '/multipleusers', listing(joeAs('ACTIVE')));

    expect(await client.promoteGuest(JOE)).toBe('applied');
    expect(paths(sent)).toEqual(['POST /promoteguest', 'GET /multipleusers']);
  });

  it('promotion: still a guest after a 504, so promote again', async () => {
    const { client, on, sent } = setUp();
    on('POST', '/promoteguest', { status: 504 }, OK);
    on('GET', '/multipleusers', listing(), listing(joeAs('ACTIVE')));

    expect(await client.promoteGuest(JOE)).toBe('applied');
    expect(paths(sent).filter((p) => p === 'POST /promoteguest')).toHaveLength(2);
  });

  it('removal: a lost answer and the user in neither listing is success', async () => {
    const { client, on, sent } = setUp();
    on('DELETE', '/user', LOST);
    on('GET', '/multipleusers', listing(listed(1000)), listing());

    expect(await client.deleteUser(JOE)).toBe('applied');
    expect(paths(sent)).toEqual(['DELETE /user', 'GET /multipleusers', 'GET /multipleusers']);
  });

  it('removal: still listed after a 503, so delete again', async () => {
    const { client, on, sent } = setUp();
    on('DELETE', '/user', { status: 503 }, OK);
    on('GET', '/multipleusers', listing(joeAs('ACTIVE')));

    expect(await client.deleteUser(JOE)).toBe('applied');
    expect(paths(sent)).toEqual(['DELETE /user', 'GET /multipleusers', 'DELETE /user']);
  });

  it('a first 400 is a failure, not "already gone": only a re-read may say that', async () => {
    const { client, on, sent } = setUp();
    on('DELETE', '/user', { status: 400, body: { error: 'no user with email_id 1001' } });

    await expect(client.deleteUser(JOE)).rejects.toMatchObject({ status: 400 });
    expect(sent).toHaveLength(1);
  });
});

describe('replace-semantics calls repeat without looking', () => {
  it.each([
    ['setComputerUsernames', '/modifyallusernames'],
    ['setSmartcards', '/modifysmartcard'],
  ] as const)('%s after a lost answer', async (method, path) => {
    const { client, on, sent } = setUp();
    on('POST', path, LOST, OK);

    await client[method](JOE, []);

    expect(paths(sent)).toEqual([`POST ${path}`, `POST ${path}`]);
  });
});

describe('FreshRead', () => {
  function counter(): { read: FreshRead<number>; tick: () => number; fetches: () => number } {
    let events = 0;
    let fetches = 0;
    const pending: (() => void)[] = [];
    const read = new FreshRead(
      () =>
        new Promise<number>((resolve) => {
          const n = ++fetches;
          pending.push(() => resolve(n));
          queueMicrotask(() => setTimeout(() => pending.shift()?.(), 5));
        }),
      () => events,
    );
    return { read, tick: () => ++events, fetches: () => fetches };
  }

  it('serves callers from a fetch that began after their event', async () => {
    const { read, tick, fetches } = counter();
    const t = tick();
    const [a, b] = await Promise.all([read.read(t), read.read(t)]);
    expect([a, b, fetches()]).toEqual([1, 1, 1]);
  });

  it('makes a later event wait for a new fetch, which later callers share', async () => {
    const { read, tick, fetches } = counter();
    const first = read.read(tick());
    const t2 = tick();
    const t3 = tick();
    const [a, b, c] = await Promise.all([first, read.read(t2), read.read(t3)]);
    expect([a, b, c, fetches()]).toEqual([1, 2, 2, 2]);
  });
});

/** Retries with a settle time that stands out from the backoff delays. */
const SETTLING = {
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  maxElapsedMs: 60_000,
  settleMs: 2500,
};

describe('settling before deciding to toggle again', () => {
  it('waits settleMs after an unclear answer before the re-read, so a late toggle is seen', async () => {
    const { client, on, sent, sleeps } = setUp({
      retry: SETTLING,
    });
    on('POST', '/togglesuspension', { status: 504 });
    on('GET', '/multipleusers', listing(joeAs('SUSPENDED')));

    expect(await client.setSuspended(JOE, true, { observed: 'ACTIVE' })).toBe('applied');
    expect(sleeps[0]).toBeGreaterThanOrEqual(2500);
    expect(paths(sent)).toEqual(['POST /togglesuspension', 'GET /multipleusers']);
  });

  it('does not wait to settle after a 429, which applied nothing', async () => {
    const { client, on, sleeps } = setUp({
      retry: SETTLING,
    });
    on('POST', '/togglesuspension', { status: 429 }, OK);
    await client.setSuspended(JOE, true, { observed: 'ACTIVE' });
    expect(sleeps.every((ms) => ms < 2500)).toBe(true);
  });
});
