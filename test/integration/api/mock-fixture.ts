import { setTimeout as wait } from 'node:timers/promises';
import { parseFaults } from '../../../src/mock/faults.js';
import { parseSeed, type SeedInput } from '../../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../../src/mock/server.js';
import { ApiClient, type ApiClientOptions } from '../../../src/api/client.js';
import { asEmailId, asUserId, type EmailId, type UserId } from '../../../src/api/ids.js';

import { aSeedUser, type SeedUserInput } from '../../support/mock.js';

export { aSeedUser, type SeedUserInput };

export const SUPER_TOKEN = 'super-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const REGULAR_TOKEN = 'regular-token-0123456789abcdef';

/** Organization `corp` with a SUPER, an ADMIN and a REGULAR caller, plus `users`. */
export function aSeed(users: SeedUserInput[] = []): SeedInput {
  return {
    organizations: [
      {
        name: 'corp',
        tokens: [
          { token: SUPER_TOKEN, email: 'owner@corp.example.com' },
          { token: ADMIN_TOKEN, email: 'admin@corp.example.com' },
          { token: REGULAR_TOKEN, email: 'reader@corp.example.com' },
        ],
        users: [
          aSeedUser({ email: 'owner@corp.example.com', rank: 'SUPER' }),
          aSeedUser({ email: 'admin@corp.example.com', rank: 'ADMIN' }),
          aSeedUser({ email: 'reader@corp.example.com' }),
          ...users,
        ],
      },
    ],
  };
}

export function startMock(seed: SeedInput, faults?: unknown): Promise<MockServer> {
  return startMockServer({
    seed: parseSeed(seed, 'test seed'),
    faults: faults === undefined ? undefined : parseFaults(faults, 'test faults'),
    port: 0,
  });
}

/** Ids of a user by email, from the mock's store (the test's view, not the client's). */
export function idsOf(server: MockServer, email: string): { emailId: EmailId; userId: UserId } {
  const user = server.store.organizations[0]?.findByEmail(email);
  if (user === undefined) throw new Error(`no ${email} in the mock`);
  return { emailId: asEmailId(user.email_id), userId: asUserId(user.user_id) };
}

/**
 * A client for the mock with retry waits squeezed to at most `maxWaitMs` of real time, while
 * `waits` records what the client asked for (so a test can still see Retry-After honoured).
 */
export function clientFor(
  server: MockServer,
  options: Partial<ApiClientOptions> & { maxWaitMs?: number } = {},
): { client: ApiClient; waits: number[] } {
  const waits: number[] = [];
  const maxWaitMs = options.maxWaitMs ?? 2;
  const client = new ApiClient({
    baseUrl: server.url,
    token: SUPER_TOKEN,
    env: {},
    retry: { baseDelayMs: 1, maxDelayMs: 4, maxAttempts: 10, settleMs: 1 },
    sleep: async (ms) => {
      waits.push(ms);
      await wait(Math.min(ms, maxWaitMs));
    },
    ...options,
  });
  return { client, waits };
}
