import { errors } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  classifyError,
  classifyStatus,
  parseRetryAfter,
  type RetryPolicy,
} from '../../../src/api/retry.js';
import { ApiError } from '../../../src/errors.js';
import { JOE, LOST, OK, REFUSED, useHarness } from './harness.js';

const policy: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  settleMs: 0,
  maxElapsedMs: 60_000,
};

describe('backoffDelay (full jitter)', () => {
  it.each([
    [1, 0, 0],
    [1, 0.999, 99],
    [2, 0.5, 100],
    [3, 0.5, 200],
    [4, 0.999, 799],
    [10, 0.999, 999], // capped at maxDelayMs
  ])('retry %d with random %d waits %d ms', (retry, r, expected) => {
    expect(backoffDelay(policy, retry, () => r)).toBe(expected);
  });

  it('never waits less than Retry-After, even beyond maxDelayMs', () => {
    expect(backoffDelay(policy, 1, () => 0, 3000)).toBe(3000);
    expect(backoffDelay(policy, 4, () => 0.999, 10)).toBe(799);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it.each([
    ['3', 3000],
    [' 0 ', 0],
    ['1.5', 1500],
    [['7', '9'], 7000],
    ['Wed, 01 Jan 2025 00:00:10 GMT', 10_000],
    ['Tue, 31 Dec 2024 23:00:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j -> %j', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('classification', () => {
  it.each([
    [429, 'not-applied'],
    [502, 'unknown'],
    [503, 'unknown'],
    [504, 'unknown'],
    [400, 'final'],
    [401, 'final'],
    [403, 'final'],
    [404, 'final'],
    [500, 'final'],
  ])('status %d is %s', (status, kind) => {
    expect(classifyStatus(status)).toBe(kind);
  });

  it.each([
    [Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'not-applied'],
    [new errors.ConnectTimeoutError(), 'not-applied'],
    [new errors.SocketError('other side closed'), 'unknown'],
    [new errors.HeadersTimeoutError(), 'unknown'],
    [new errors.BodyTimeoutError(), 'unknown'],
    [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'unknown'],
    [new Error('a bug'), 'final'],
  ])('%s is %s', (error, kind) => {
    expect(classifyError(error)).toBe(kind);
  });
});

describe('ApiClient retries', () => {
  const setUp = useHarness();

  it.each([429, 502, 503, 504])(
    'retries a replace call after %d, with growing backoff',
    async (status) => {
      const { client, on, sent, sleeps } = setUp();
      on(
        'POST',
        '/modifyallusernames',
        { status, body: { error: 'busy' } },
        { status, body: { error: 'busy' } },
        OK,
      );

      await client.setComputerUsernames(JOE, ['jdev']);

      expect(sent).toHaveLength(3);
      // random() is 0.5: half of 100, then half of 200.
      expect(sleeps).toEqual([50, 100]);
    },
  );

  it.each([
    ['a refused connection', REFUSED],
    ['a lost answer', LOST],
    ['a headers timeout', { error: new errors.HeadersTimeoutError() }],
  ])('retries a replace call after %s', async (_what, failure) => {
    const { client, on, sent } = setUp();
    on('POST', '/modifysmartcard', failure, OK);

    await client.setSmartcards(JOE, [{ number: '1' }]);

    expect(sent).toHaveLength(2);
  });

  it('waits as long as Retry-After says, in seconds or as a date', async () => {
    const { client, on, sleeps, clock } = setUp();
    const started = clock.now();
    const inFive = new Date(started + 5000).toUTCString();
    on(
      'GET',
      '/multipleusers',
      { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '3' } },
      { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': inFive } },
      { status: 200, body: [] },
    );

    await client.listUsers();

    // 3s, then what is left until the date: 5s after the start, 3s of which have passed.
    expect(sleeps).toEqual([3000, 2000]);
    expect(clock.now() - started).toBe(sleeps.reduce((a, b) => a + b, 0));
  });

  it('holds back the next request, on any endpoint, until Retry-After has passed', async () => {
    // One attempt only: the 429 fails its own call at once, yet its pause must still hold.
    const { client, on, sent, sleeps } = setUp({ retry: { maxAttempts: 1 } });
    on('GET', '/multipleusers', { status: 429, headers: { 'retry-after': '2' } });
    on('GET', '/user', { status: 200, body: {} });

    await expect(client.listUsers()).rejects.toMatchObject({ status: 429 });
    expect(sleeps).toEqual([]);
    await client.getUser(JOE);

    expect(sleeps).toEqual([2000]);
    expect(sent.map((r) => r.path)).toEqual(['/multipleusers', '/user']);
  });

  it.each([400, 401, 403, 404, 500])('never retries a %d', async (status) => {
    const { client, on, sent, sleeps } = setUp();
    on('POST', '/modifyallusernames', { status, body: { error: `refused with ${status}` } });

    const error = await client.setComputerUsernames(JOE, []).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      method: 'POST',
      path: '/modifyallusernames',
      status,
      message: expect.stringContaining(`refused with ${status}`) as unknown,
    });
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('gives up after maxAttempts with the last status', async () => {
    const { client, on, sent } = setUp({ retry: { maxAttempts: 3, baseDelayMs: 10 } });
    on(
      'GET',
      '/user',
      ...Array.from({ length: 3 }, () => ({ status: 503, body: { error: 'overloaded' } })),
    );

    const error = await client.getUser(JOE).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 503,
      message: expect.stringMatching(/overloaded.*after 3 attempts/) as unknown,
    });
    expect(sent).toHaveLength(3);
  });

  it('gives up when the time budget would run out', async () => {
    const { client, on, sent, sleeps } = setUp({
      random: () => 0.999,
      retry: { maxAttempts: 100, baseDelayMs: 1000, maxDelayMs: 8000, maxElapsedMs: 10_000 },
    });
    // Waits of ~1s, ~2s, ~4s fit in 10s; the next (~8s) would not.
    on('GET', '/user', ...Array.from({ length: 4 }, () => ({ status: 502 })));

    const error = await client.getUser(JOE).catch((e: unknown) => e);

    expect(error).toMatchObject({
      status: 502,
      message: expect.stringMatching(/retry budget of 10s/) as unknown,
    });
    expect(sent).toHaveLength(4);
    expect(sleeps).toEqual([999, 1998, 3996]);
  });

  it('gives up at once when Retry-After is beyond the budget', async () => {
    const { client, on, sent, sleeps } = setUp({ retry: { maxElapsedMs: 30_000 } });
    on('GET', '/multipleusers', { status: 429, headers: { 'retry-after': '3600' } });

    const error = await client.listUsers().catch((e: unknown) => e);

    expect(error).toMatchObject({
      status: 429,
      message: expect.stringMatching(/asked to wait 3600s/) as unknown,
    });
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('does not retry a TLS trust failure, and points at caFile', async () => {
    const { client, on, sent } = setUp();
    on('GET', '/multipleusers', {
      error: Object.assign(new Error('self-signed certificate in certificate chain'), {
        code: 'SELF_SIGNED_CERT_IN_CHAIN',
      }),
    });

    const error = await client.listUsers().catch((e: unknown) => e);

    expect(error).toMatchObject({
      hint: expect.stringMatching(/caFile/) as unknown,
      status: undefined,
    });
    expect(sent).toHaveLength(1);
  });
});
