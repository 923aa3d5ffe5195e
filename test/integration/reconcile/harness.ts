import { afterEach } from 'vitest';
import { ApiClient } from '../../../src/api/client.js';
import type { MockServer } from '../../../src/mock/server.js';
import { asEmailId, asUserId, type EmailId, type UserId } from '../../../src/api/ids.js';
import type { Plan } from '../../../src/reconcile/model.js';
import type { StatePatch } from '../../../src/state/store.js';
import {
  SUPER_TOKEN,
  aSeed,
  mockState,
  startTestMock,
  type SeedUserInput,
} from '../../support/mock.js';
import { aPlan, parseAction, type ActionInput } from '../../unit/reconcile/builders.js';

/** A journal that keeps what apply records, in order. */
export class MemoryJournal {
  readonly patches: StatePatch[] = [];
  record(patch: StatePatch): void {
    this.patches.push(patch);
  }
}

/** A seeded user as an action names it (`reason` is 'test'). */
export interface SeededUser {
  email: string;
  emailId: EmailId;
  userId: UserId;
  reason: string;
}

export interface StartOptions {
  /** The client's token (default SUPER_TOKEN). */
  token?: string;
  faults?: unknown;
  /** The client's `retry.settleMs` (default 1). */
  settleMs?: number;
  /** The client's `concurrency` (the client's default when absent). */
  concurrency?: number;
}

export interface MockApi {
  /** The running mock; throws before `start`. */
  readonly server: MockServer;
  /** A client on it with fast retries; throws before `start`. */
  readonly api: ApiClient;
  /** Starts the mock with `corp` plus `users`, and a client on it. */
  start(
    users: SeedUserInput[],
    options?: StartOptions,
  ): Promise<{ user(email: string): SeededUser }>;
}

/**
 * A mock Users API and a client for each test of the calling file: `start` opens them, and they
 * are closed after each test (the `afterEach` is registered here, so call this at the top level).
 */
export function mockApiPerTest(): MockApi {
  let server: MockServer | undefined;
  let api: ApiClient | undefined;
  afterEach(async () => {
    await api?.close();
    await server?.close();
    api = undefined;
    server = undefined;
  });
  return {
    get server() {
      if (server === undefined) throw new Error('start the mock first');
      return server;
    },
    get api() {
      if (api === undefined) throw new Error('start the mock first');
      return api;
    },
    async start(users, options = {}) {
      server = await startTestMock(aSeed(users), options.faults);
      api = new ApiClient({
        baseUrl: server.url,
        token: options.token ?? SUPER_TOKEN,
        concurrency: options.concurrency,
        retry: { baseDelayMs: 1, maxDelayMs: 5, settleMs: options.settleMs ?? 1 },
      });
      const all = (await mockState(server.url)).organizations[0]!.users;
      return {
        user(email) {
          const u = all.find((x) => x.email === email);
          if (u === undefined) throw new Error(`${email} is not in the seed`);
          return {
            email,
            emailId: asEmailId(u.email_id),
            userId: asUserId(u.user_id),
            reason: 'test',
          };
        },
      };
    },
  };
}

/** A plan of just these actions (see `parseAction`): apply reads nothing else of it. */
export function planOf(actions: readonly ActionInput[]): Plan {
  return aPlan({ actions: actions.map(parseAction) });
}
