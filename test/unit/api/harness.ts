import { afterEach } from 'vitest';
import { errors, MockAgent, type Dispatcher } from 'undici';
import { ApiClient, type ApiClientOptions } from '../../../src/api/client.js';
import { asEmailId, asUserId } from '../../../src/api/ids.js';
import type { RetryPolicy } from '../../../src/api/retry.js';

export const ORIGIN = 'https://api.example.test';
/** Distinctive, so a test can search any text for it. */
export const TOKEN = 'tok-S3CRET-7f3a9c1e55d2';

export const JOE = asEmailId(1001);
export const JOE_USER_ID = asUserId(5_000_001);

/** The harness client's retry policy: small waits, no settle wait. */
export const TEST_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  maxElapsedMs: 60_000,
  settleMs: 0,
};

/** A request as it left the client. */
export interface Sent {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string | undefined;
}

export type Reply =
  { status: number; body?: unknown; headers?: Record<string, string> } | { error: Error };

/** The answer is lost after the server may have acted: the socket closed under the request. */
export const LOST: Reply = { error: new errors.SocketError('other side closed') };
/** Nothing reached the server. */
export const REFUSED: Reply = {
  error: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }),
};
export const OK: Reply = { status: 200, body: { success: 'ok' } };

/** A `/multipleusers` element with every field of the reference. */
export function listed(
  emailId: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ad_status: 'ACTIVE',
    active_date: '2020-03-20 01:30:34',
    confirmed: '2020-03-20 01:30:16',
    created: '2020-03-20 01:30:05',
    device_added: '2023-01-23 23:46:35',
    email: `user${emailId}@corp.example.com`,
    email_id: emailId,
    email_status: 'CONFIRMED',
    first_name: 'Joe',
    last_name: 'Developer',
    groups: [['Employees']],
    name: 'Joe Developer',
    user_id: emailId + 5_000_000,
    username: 'jdeveloper',
    unique_id: 'abc',
    ...overrides,
  };
}

function headerRecord(headers: Dispatcher.DispatchOptions['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      out[String(headers[i]).toLowerCase()] = String(headers[i + 1]);
    }
    return out;
  }
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    out[k.toLowerCase()] = String(v);
  }
  return out;
}

/**
 * An ApiClient on an undici MockAgent with net connect disabled, a clock that only moves when
 * the client sleeps, and a record of every request sent (failed ones included).
 */
export function harness(options: Partial<ApiClientOptions> = {}): {
  client: ApiClient;
  agent: MockAgent;
  sent: Sent[];
  sleeps: number[];
  clock: { now(): number };
  /** Queues replies, in order, for `method path` (path without query). */
  on: (method: string, path: string, ...replies: Reply[]) => void;
} {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const sent: Sent[] = [];
  const recording = agent.compose((dispatch) => (opts, handler) => {
    const url = new URL(opts.path, ORIGIN);
    sent.push({
      method: opts.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: headerRecord(opts.headers),
      body: typeof opts.body === 'string' ? opts.body : undefined,
    });
    return dispatch(opts, handler);
  });
  let now = Date.parse('2025-01-01T00:00:00Z');
  const sleeps: number[] = [];
  const clock = { now: () => now };
  const client = new ApiClient({
    baseUrl: ORIGIN,
    token: TOKEN,
    dispatcher: recording,
    clock,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    random: () => 0.5,
    retry: TEST_RETRY_POLICY,
    ...options,
  });
  const pool = agent.get(ORIGIN);
  const on = (method: string, path: string, ...replies: Reply[]): void => {
    for (const reply of replies) {
      const interceptor = pool.intercept({ method, path: (p) => p.split('?')[0] === path });
      if ('error' in reply) interceptor.replyWithError(reply.error).times(1);
      else {
        interceptor
          .reply(reply.status, reply.body === undefined ? '' : JSON.stringify(reply.body), {
            headers: { 'content-type': 'application/json', ...reply.headers },
          })
          .times(1);
      }
    }
  };
  return { client, agent, sent, sleeps, clock, on };
}

/** The form fields of a sent POST body. */
export function formOf(sent: Sent | undefined): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(sent?.body ?? ''));
}

/**
 * The per-test lifecycle of {@link harness}: returns `setUp`, and after each test checks that
 * every queued reply was used (net connect being off, nothing unplanned was sent) and closes
 * the agent. Call it at the top of a file or a describe block.
 */
export function useHarness(): (...args: Parameters<typeof harness>) => ReturnType<typeof harness> {
  let active: ReturnType<typeof harness> | undefined;
  afterEach(async () => {
    active?.agent.assertNoPendingInterceptors();
    await active?.agent.close();
    active = undefined;
  });
  return (...args) => {
    active = harness(...args);
    return active;
  };
}
