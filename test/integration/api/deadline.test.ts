import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../src/api/client.js';
import { asEmailId } from '../../../src/api/ids.js';
import { ApiError } from '../../../src/errors.js';
import { startTrickleServer, type TrickleServer } from '../../support/trickle.js';

const TOKEN = 'trickle-token-0123456789';
let server: TrickleServer | undefined;
const clients: ApiClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  await server?.close();
  server = undefined;
});

function client(options: { requestMs?: number; signal?: AbortSignal } = {}): ApiClient {
  const c = new ApiClient({
    baseUrl: server!.url,
    token: TOKEN,
    env: {},
    retry: { maxAttempts: 1 },
    timeouts: { requestMs: options.requestMs ?? 60_000 },
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  clients.push(c);
  return c;
}

async function failureOf(work: Promise<unknown>): Promise<ApiError> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected the call to fail');
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}

describe('api.requestTimeoutMs: a whole-request deadline', () => {
  it('cuts off a body that trickles one byte at a time, with a clear ApiError', async () => {
    // Arrange: headers at once, then a byte every 200 ms, for ever (no silence timeout trips).
    server = await startTrickleServer(200);

    // Act
    const error = await failureOf(client({ requestMs: 1_000 }).listUsers());

    // Assert
    expect(error.message).toBe(
      'GET /multipleusers failed: no complete answer within 1 s (api.requestTimeoutMs) (gave up after 1 attempts)',
    );
    expect(error.hint).toContain('stalled mid-answer');
    expect(error.method).toBe('GET');
    expect(error.path).toBe('/multipleusers');
  });

  it('a stopped run cuts a trickling read at once, and sends nothing more', async () => {
    server = await startTrickleServer(200);
    const stop = new AbortController();
    const api = client({ signal: stop.signal });

    const reading = failureOf(api.getUser(asEmailId(7)));
    await until(() => server!.seen.length === 1);
    stop.abort('SIGTERM');
    const error = await reading;
    const after = await failureOf(api.getUser(asEmailId(8)));

    expect(error.message).toBe('GET /user failed: not finished: the run was stopped (SIGTERM)');
    expect(after.message).toBe('GET /user failed: not finished: the run was stopped (SIGTERM)');
    expect(server.seen).toEqual([{ method: 'GET', url: '/user?email_id=7' }]);
  });

  it('many requests in flight on one stop signal raise no listener-leak warning', async () => {
    server = await startTrickleServer(200);
    const stop = new AbortController();
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    const api = new ApiClient({
      baseUrl: server.url,
      token: TOKEN,
      env: {},
      concurrency: 32,
      retry: { maxAttempts: 1 },
      signal: stop.signal,
    });
    clients.push(api);

    const reads = Array.from({ length: 32 }, (_, i) => failureOf(api.getUser(asEmailId(i + 1))));
    await until(() => server!.seen.length === 32);
    stop.abort('SIGTERM');
    await Promise.all(reads);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);

    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });
});
