import { setTimeout as wait } from 'node:timers/promises';
import type { SeedInput } from '../../../src/mock/seed.js';
import type { MockServer } from '../../../src/mock/server.js';
import { ApiClient, type ApiClientOptions } from '../../../src/api/client.js';
import { asEmailId, asUserId, type EmailId, type UserId } from '../../../src/api/ids.js';

import {
  aSeed as sharedSeed,
  aSeedUser,
  startTestMock,
  type SeedUserInput,
} from '../../support/mock.js';

export { aSeedUser, type SeedUserInput };

export const SUPER_TOKEN = 'super-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const REGULAR_TOKEN = 'regular-token-0123456789abcdef';

/**
 * Organization `corp` with a SUPER, an ADMIN and a REGULAR caller, plus `users`, with tokens
 * long and distinctive enough for the redaction tests to search any text for them.
 */
export function aSeed(users: SeedUserInput[] = []): SeedInput {
  return sharedSeed(users, {
    tokens: { super: SUPER_TOKEN, admin: ADMIN_TOKEN, regular: REGULAR_TOKEN },
    otherOrganization: false,
  });
}

export { startTestMock as startMock };

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
