import { afterEach, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../../src/api/client.js';
import type { EmailId, UserId } from '../../../src/api/ids.js';
import type { Rank } from '../../../src/api/schema.js';
import type { MockServer, RequestRecord } from '../../../src/mock/server.js';
import { mulberry32 } from '../../../src/mock/faults.js';
import {
  aSeed,
  aSeedUser,
  clientFor,
  idsOf,
  startMock,
  type SeedUserInput,
} from './mock-fixture.js';

interface Model {
  email: string;
  usernames: string[];
  cards: string[];
  rank: Rank;
  tag: 'USER' | 'GUEST';
  suspended: boolean;
  present: boolean;
}

type Op =
  | { kind: 'usernames'; names: string[] }
  | { kind: 'cards'; numbers: string[] }
  | { kind: 'rank'; rank: Rank }
  | { kind: 'suspend'; suspended: boolean; changes: boolean; tellObserved: boolean }
  | { kind: 'promote' }
  | { kind: 'delete' };

const USERS = 80;
const OPERATIONS = 1000;
const RANKS: readonly Rank[] = ['REGULAR', 'ADMIN', 'SUPER'];

function seedUsers(): SeedUserInput[] {
  return Array.from({ length: USERS }, (_, i) =>
    aSeedUser({
      email: `u${i}@corp.example.com`,
      tag: i % 5 === 0 ? 'GUEST' : 'USER',
      ad_status: i % 3 === 0 ? 'SUSPENDED' : 'ACTIVE',
      computer_usernames: [`u${i}`],
    }),
  );
}

/** 1,000 operations spread over the users; each user's own come in order, as apply runs them. */
function planOperations(random: () => number): { models: Model[]; queues: Op[][] } {
  const models: Model[] = Array.from({ length: USERS }, (_, i) => ({
    email: `u${i}@corp.example.com`,
    usernames: [`u${i}`],
    cards: [],
    rank: 'REGULAR',
    tag: i % 5 === 0 ? 'GUEST' : 'USER',
    suspended: i % 3 === 0,
    present: true,
  }));
  const queues: Op[][] = models.map(() => []);
  for (let n = 0; n < OPERATIONS; n++) {
    let i = Math.floor(random() * USERS);
    while (models[i]?.present !== true) i = (i + 1) % USERS;
    const model = models[i];
    const queue = queues[i];
    if (model === undefined || queue === undefined) throw new Error('unreachable');
    const r = random();
    // Card numbers: a fixed-width prefix per user, so no two users ever hold the same one.
    const prefix = String(1000 + i);
    if (r < 0.22) {
      const names = Array.from({ length: Math.floor(random() * 3) }, (_, k) => `u${i}-${n}-${k}`);
      queue.push({ kind: 'usernames', names });
      model.usernames = names;
    } else if (r < 0.4) {
      const numbers = Array.from(
        { length: Math.floor(random() * 3) },
        (_, k) => `${prefix}${n}${k}`,
      );
      queue.push({ kind: 'cards', numbers });
      model.cards = numbers;
    } else if (r < 0.55) {
      const rank = RANKS[Math.floor(random() * RANKS.length)] ?? 'REGULAR';
      queue.push({ kind: 'rank', rank });
      model.rank = rank;
    } else if (r < 0.93) {
      // Mostly real changes, some already-true intents that must send nothing.
      const suspended = random() < 0.85 ? !model.suspended : model.suspended;
      queue.push({
        kind: 'suspend',
        suspended,
        changes: suspended !== model.suspended,
        tellObserved: random() < 0.5,
      });
      model.suspended = suspended;
    } else if (r < 0.97 && model.tag === 'GUEST') {
      queue.push({ kind: 'promote' });
      model.tag = 'USER';
    } else if (r >= 0.97 && n > OPERATIONS / 2) {
      queue.push({ kind: 'delete' });
      model.present = false;
    } else {
      n--;
    }
  }
  return { models, queues };
}

async function applyOp(
  api: ApiClient,
  ids: { emailId: EmailId; userId: UserId },
  op: Op,
): Promise<string> {
  switch (op.kind) {
    case 'usernames':
      await api.setComputerUsernames(ids.emailId, op.names);
      return 'done';
    case 'cards':
      await api.setSmartcards(
        ids.emailId,
        op.numbers.map((number) => ({ number, label: 'badge' })),
      );
      return 'done';
    case 'rank':
      await api.setRank(ids.userId, op.rank);
      return 'done';
    case 'suspend': {
      const wasSuspended = op.changes ? !op.suspended : op.suspended;
      const observed = wasSuspended ? 'SUSPENDED' : 'ACTIVE';
      return api.setSuspended(ids.emailId, op.suspended, op.tellObserved ? { observed } : {});
    }
    case 'promote':
      return api.promoteGuest(ids.emailId);
    case 'delete':
      return api.deleteUser(ids.emailId);
  }
}

/** Writes that took effect: a 2xx (recorded even when the answer was then dropped). */
function applied(requests: readonly RequestRecord[], path: string, emailId: number): number {
  return requests.filter(
    (r) =>
      r.path === path &&
      r.method !== 'GET' &&
      r.status === 200 &&
      r.params['email_id'] === String(emailId),
  ).length;
}

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('ApiClient under injected faults', () => {
  it.each([
    [
      'toggles dropped after commit',
      {
        seed: 7,
        '/togglesuspension': { dropAfterCommit: 0.3 },
        '*': { latencyMs: 1, rate429: 0.2, retryAfterSeconds: 1, rate5xx: 0.05 },
      },
      // An attempt fails 24% of the time: 10 attempts leave ~1e-6 per call to chance.
      10,
    ],
    [
      'every kind of answer dropped after commit',
      {
        seed: 11,
        '*': {
          latencyMs: 1,
          rate429: 0.2,
          retryAfterSeconds: 1,
          rate5xx: 0.05,
          dropAfterCommit: 0.3,
        },
      },
      // Here 47% of attempts fail (a lost answer to a replace call is simply repeated), so
      // 10 attempts would give up somewhere in 1,000 calls about one run in three.
      20,
    ],
  ])(
    '1,000 mixed operations end in exactly the intended state (%s)',
    async (_name, faults, maxAttempts) => {
      server = await startMock(aSeed(seedUsers()), faults);
      const s = server;
      const { client: api, waits } = clientFor(s, {
        concurrency: 8,
        retry: { baseDelayMs: 1, maxDelayMs: 4, maxAttempts, settleMs: 1 },
      });
      const { models, queues } = planOperations(mulberry32(2024));
      const ids = models.map((m) => idsOf(s, m.email));

      const outcomes = await Promise.all(
        queues.map(async (queue, i) => {
          const results: string[] = [];
          const userIds = ids[i];
          if (userIds === undefined) throw new Error('unreachable');
          for (const op of queue) results.push(await applyOp(api, userIds, op));
          return results;
        }),
      );
      await api.close();

      expect(queues.flat()).toHaveLength(OPERATIONS);
      // The end state, user by user, field by field.
      const org = s.store.organizations[0];
      const actual = models.map((m) => {
        const u = org?.findByEmail(m.email);
        return u === undefined
          ? { email: m.email, present: false }
          : {
              email: m.email,
              present: true,
              usernames: u.computer_usernames,
              cards: u.smartcards.map((c) => c.number),
              rank: u.rank,
              tag: u.tag,
              suspended: u.ad_status === 'SUSPENDED',
            };
      });
      const expected = models.map((m) =>
        m.present
          ? {
              email: m.email,
              present: true,
              usernames: m.usernames,
              cards: m.cards,
              rank: m.rank,
              tag: m.tag,
              suspended: m.suspended,
            }
          : { email: m.email, present: false },
      );
      expect(actual).toEqual(expected);

      // No intent applied twice: per user, exactly one applied toggle for each intent that
      // changed the state (and none for those that did not), one promotion, one removal.
      const counts = queues.map((queue, i) => {
        const emailId = ids[i]?.emailId ?? 0;
        return {
          toggles: applied(s.requests, '/togglesuspension', emailId),
          promotions: applied(s.requests, '/promoteguest', emailId),
          deletions: applied(s.requests, '/user', emailId),
        };
      });
      const intended = queues.map((queue) => ({
        toggles: queue.filter((op) => op.kind === 'suspend' && op.changes).length,
        promotions: queue.filter((op) => op.kind === 'promote').length,
        deletions: queue.filter((op) => op.kind === 'delete').length,
      }));
      expect(counts).toEqual(intended);

      const suspendOutcomes = queues
        .flatMap((queue, i) => queue.map((op, k) => [op, outcomes[i]?.[k]] as const))
        .filter(([op]) => op.kind === 'suspend');
      for (const [op, outcome] of suspendOutcomes) {
        expect(outcome).toBe(op.kind === 'suspend' && op.changes ? 'applied' : 'unchanged');
      }

      // The faults really happened, and Retry-After was asked for in full.
      const faultsSeen = new Set(s.requests.map((r) => r.fault));
      expect([...faultsSeen].sort()).toEqual(['429', '5xx', 'drop', undefined].sort());
      expect(s.requests.some((r) => r.path === '/togglesuspension' && r.fault === 'drop')).toBe(
        true,
      );
      expect(waits.filter((ms) => ms >= 1000).length).toBeGreaterThan(0);
    },
    60_000,
  );
});
