import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { MockServer } from '../../../src/mock/server.js';
import {
  RawClient,
  SUPER_TOKEN,
  aSeed,
  aSeedUser,
  startTestMock,
  stateUser,
} from '../../support/mock.js';

const JOE = 'joe@corp.example.com';
let server: MockServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(faults: unknown): Promise<{ api: RawClient; joeId: string }> {
  server = await startTestMock(aSeed([aSeedUser({ email: JOE })]), faults);
  const joe = await stateUser(server.url, JOE);
  return { api: new RawClient(server.url, SUPER_TOKEN), joeId: String(joe?.email_id) };
}

/** Sends `n` username writes in sequence and returns each status, or 'cut' for a dropped connection. */
async function writeUsernames(
  api: RawClient,
  joeId: string,
  n: number,
): Promise<(number | 'cut')[]> {
  const out: (number | 'cut')[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const res = await api.postForm('/modifyallusernames', {
        email_id: joeId,
        computer_usernames: [{ computer_username: `login${i}` }],
      });
      out.push(res.status);
    } catch {
      out.push('cut');
    }
  }
  return out;
}

const share = (xs: unknown[], value: unknown): number =>
  xs.filter((x) => x === value).length / xs.length;

describe('mock faults', () => {
  it('answers about rate429 of the requests with 429 and the configured Retry-After, applying nothing', async () => {
    const { api, joeId } = await start({ seed: 3, '*': { rate429: 0.3, retryAfterSeconds: 7 } });
    const statuses: number[] = [];
    for (let i = 0; i < 600; i++) {
      const res = await api.postForm('/togglesuspension', { email_id: joeId });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers['retry-after']).toBe('7');
        expect(res.body).toEqual({ error: expect.any(String) as string });
      }
    }
    expect(share(statuses, 429)).toBeGreaterThan(0.24);
    expect(share(statuses, 429)).toBeLessThan(0.36);
    // Only the 200s toggled: an even number of them leaves Joe ACTIVE.
    const applied = statuses.filter((s) => s === 200).length;
    expect((await stateUser(server!.url, JOE))?.ad_status).toBe(
      applied % 2 === 0 ? 'ACTIVE' : 'SUSPENDED',
    );
  });

  it('answers about rate5xx of the requests with 503, applying nothing', async () => {
    const { api, joeId } = await start({ seed: 4, '/togglesuspension': { rate5xx: 0.2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 600; i++)
      statuses.push((await api.postForm('/togglesuspension', { email_id: joeId })).status);
    expect(share(statuses, 503)).toBeGreaterThan(0.15);
    expect(share(statuses, 503)).toBeLessThan(0.25);
    const applied = statuses.filter((s) => s === 200).length;
    expect((await stateUser(server!.url, JOE))?.ad_status).toBe(
      applied % 2 === 0 ? 'ACTIVE' : 'SUSPENDED',
    );
  });

  it('dropAfterCommit applies the change, then cuts the connection without an answer', async () => {
    const { api, joeId } = await start({ '/modifyallusernames': { dropAfterCommit: 1 } });
    await expect(
      api.postForm('/modifyallusernames', {
        email_id: joeId,
        computer_usernames: [{ computer_username: 'kept' }],
      }),
    ).rejects.toThrow();
    expect((await stateUser(server!.url, JOE))?.computer_usernames).toEqual(['kept']);
    expect(server!.requests.at(-1)).toMatchObject({
      path: '/modifyallusernames',
      status: 200,
      fault: 'drop',
    });
  });

  it('drops about dropAfterCommit of the requests, and each dropped one was applied', async () => {
    const { api, joeId } = await start({ seed: 5, '/togglesuspension': { dropAfterCommit: 0.3 } });
    let cut = 0;
    for (let i = 0; i < 400; i++) {
      try {
        expect((await api.postForm('/togglesuspension', { email_id: joeId })).status).toBe(200);
      } catch {
        cut++;
      }
    }
    expect(cut / 400).toBeGreaterThan(0.23);
    expect(cut / 400).toBeLessThan(0.37);
    // Every one of the 400 toggles landed, answered or not: an even count leaves Joe ACTIVE.
    expect((await stateUser(server!.url, JOE))?.ad_status).toBe('ACTIVE');
    expect(server!.requests.filter((r) => r.fault === 'drop')).toHaveLength(cut);
  });

  it('delays every answer of an endpoint by latencyMs', async () => {
    const { api } = await start({ '/multipleusers': { latencyMs: 60 } });
    const started = performance.now();
    await api.get('/multipleusers');
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('repeats the same faults for the same seed, and others for another seed', async () => {
    const faults = (seed: number): unknown => ({
      seed,
      '*': { rate429: 0.2, rate5xx: 0.1, dropAfterCommit: 0.1 },
    });
    const runs: (number | 'cut')[][] = [];
    for (const seed of [11, 11, 12]) {
      const { api, joeId } = await start(faults(seed));
      runs.push(await writeUsernames(api, joeId, 150));
      await server!.close();
      server = undefined;
    }
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]).not.toEqual(runs[2]);
    expect(new Set(runs[0])).toEqual(new Set([200, 429, 503, 'cut']));
  });

  it('merges an endpoint entry over "*" key by key', async () => {
    const { api, joeId } = await start({
      '*': { rate5xx: 1, latencyMs: 0 },
      '/user': { rate5xx: 0 },
    });
    expect((await api.get('/user', { email_id: joeId })).status).toBe(200);
    expect((await api.get('/multipleusers')).status).toBe(503);
  });

  it('never faults the test surface', async () => {
    await start({ '*': { rate5xx: 1, rate429: 1 } });
    const state = await fetch(`${server!.url}/_mock/state`);
    const log = await fetch(`${server!.url}/_mock/requests`);
    expect([state.status, log.status]).toEqual([200, 200]);
  });

  it('records faulted requests in the request log', async () => {
    const { api } = await start({ '/multipleusers': { rate429: 1 } });
    await api.get('/multipleusers', { user_tag: 'GUEST' });
    expect(server!.requests).toEqual([
      {
        method: 'GET',
        path: '/multipleusers',
        params: { user_tag: 'GUEST' },
        status: 429,
        fault: '429',
      },
    ]);
  });
});

describe('mock faults: listings and hand edits', () => {
  const ANN = 'ann@corp.example.com';
  const GUS = 'gus@corp.example.com';

  async function startWith(faults: unknown): Promise<RawClient> {
    server = await startTestMock(
      aSeed([
        aSeedUser({ email: JOE }),
        aSeedUser({ email: ANN }),
        aSeedUser({ email: GUS, tag: 'GUEST' }),
      ]),
      faults,
    );
    return new RawClient(server.url, SUPER_TOKEN);
  }

  const emailsOf = (body: unknown): string[] => (body as { email: string }[]).map((u) => u.email);

  it('cacheListingsMs serves a cached listing per token and query until it expires', async () => {
    const api = await startWith({ '/multipleusers': { cacheListingsMs: 60_000 } });
    const joe = (await stateUser(server!.url, JOE))!;
    const before = await api.get('/multipleusers');
    await api.postForm('/togglesuspension', { email_id: String(joe.email_id) });
    const cached = await api.get('/multipleusers');
    const guests = await api.get('/multipleusers', { user_tag: 'GUEST' });
    expect(cached.body).toEqual(before.body);
    expect(emailsOf(guests.body)).toEqual([GUS]);
    expect(server!.requests.map((r) => r.fault ?? r.status)).toEqual([200, 200, 'cached', 200]);
  });

  it('cacheListingsMs serves fresh to Cache-Control: no-cache, unless cacheIgnoresNoCache', async () => {
    for (const ignores of [false, true]) {
      const api = await startWith({
        '/multipleusers': { cacheListingsMs: 60_000, cacheIgnoresNoCache: ignores },
      });
      const joe = (await stateUser(server!.url, JOE))!;
      await api.get('/multipleusers');
      await api.postForm('/togglesuspension', { email_id: String(joe.email_id) });
      const res = await request(`${server!.url}/multipleusers`, {
        headers: {
          authorization: `Bearer ${SUPER_TOKEN}`,
          'cache-control': 'no-cache',
          pragma: 'no-cache',
        },
      });
      const listed = (await res.body.json()) as { email: string; ad_status: string }[];
      expect(listed.find((u) => u.email === JOE)?.ad_status).toBe(ignores ? 'ACTIVE' : 'SUSPENDED');
      await server!.close();
      server = undefined;
    }
  });

  it('duplicateRows repeats the listed users in their own listing and in the other one', async () => {
    const api = await startWith({ '/multipleusers': { duplicateRows: [JOE, GUS] } });
    const users = emailsOf((await api.get('/multipleusers')).body);
    const guests = emailsOf((await api.get('/multipleusers', { user_tag: 'GUEST' })).body);
    expect(users.filter((e) => e === JOE)).toHaveLength(2);
    expect(users.filter((e) => e === GUS)).toHaveLength(1);
    expect(guests.filter((e) => e === JOE)).toHaveLength(1);
    expect(guests.filter((e) => e === GUS)).toHaveLength(2);
    expect(users.filter((e) => e === ANN)).toHaveLength(1);
  });

  it('duplicateRows as a rate picks the same users on every listing', async () => {
    const api = await startWith({
      seed: 9,
      '/multipleusers': { duplicateRows: 0.5, duplicateRowsInto: 'same' },
    });
    const first = emailsOf((await api.get('/multipleusers')).body);
    const second = emailsOf((await api.get('/multipleusers')).body);
    expect(second).toEqual(first);
    expect(first.length).toBeGreaterThan(new Set(first).size);
  });

  it('latencyMs as [min, max] delays each answer by a draw in the range', async () => {
    const api = await startWith({ '/togglesuspension': { latencyMs: [80, 120] } });
    const joe = (await stateUser(server!.url, JOE))!;
    const started = performance.now();
    await api.postForm('/togglesuspension', { email_id: String(joe.email_id) });
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
  });

  it('refuses a listing-only fault on another endpoint', async () => {
    await expect(startWith({ '/user': { cacheListingsMs: 10 } })).rejects.toThrow(
      /only \/multipleusers takes it/,
    );
  });

  it('lets a test edit or remove a user by hand, and replace the faults', async () => {
    await startWith(undefined);
    const joe = (await stateUser(server!.url, JOE))!;
    const edit = await request(`${server!.url}/_mock/users/${joe.email_id}`, {
      method: 'POST',
      body: JSON.stringify({ ad_status: 'SUSPENDED', rank: 'ADMIN' }),
    });
    expect(edit.statusCode).toBe(200);
    await edit.body.dump();
    expect(await stateUser(server!.url, JOE)).toMatchObject({
      ad_status: 'SUSPENDED',
      rank: 'ADMIN',
    });
    const bad = await request(`${server!.url}/_mock/users/${joe.email_id}`, {
      method: 'POST',
      body: JSON.stringify({ ad_status: 'GONE' }),
    });
    expect(bad.statusCode).toBe(400);
    await bad.body.dump();
    const del = await request(`${server!.url}/_mock/users/${joe.email_id}`, { method: 'DELETE' });
    expect(del.statusCode).toBe(200);
    await del.body.dump();
    expect(await stateUser(server!.url, JOE)).toBeUndefined();
    const put = await request(`${server!.url}/_mock/faults`, {
      method: 'PUT',
      body: JSON.stringify({ '/multipleusers': { rate5xx: 1 } }),
    });
    expect(put.statusCode).toBe(200);
    await put.body.dump();
    expect((await new RawClient(server!.url, SUPER_TOKEN).get('/multipleusers')).status).toBe(503);
    expect(server!.requests).toHaveLength(1);
  });
});
