import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStateRecord, StateRecord } from '../../../src/state/model.js';

/** A value of a field: often of the right type, sometimes not. */
const maybe = <T>(right: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 6, arbitrary: right },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.string(), fc.boolean()) },
  );

const userEntry: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .record(
        {
          email: maybe(fc.emailAddress()),
          rank: maybe(fc.constantFrom('SUPER', 'ADMIN', 'REGULAR', 'OWNER')),
          computerUsernames: maybe(fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 })),
          smartcards: maybe(fc.array(fc.string(), { maxLength: 3 })),
          verifiedAt: maybe(fc.string()),
          missingSince: maybe(fc.string()),
          suspendedByDirsync: maybe(fc.boolean()),
          pendingToggle: maybe(
            fc.record({
              want: fc.constantFrom('ACTIVE', 'SUSPENDED', 'PENDING'),
              from: fc.constantFrom('ACTIVE', 'SUSPENDED'),
              sentAt: fc.string(),
            }),
          ),
          extra: maybe(fc.string()),
        },
        { requiredKeys: ['email'] },
      )
      // As JSON.parse gives it: no key holds undefined.
      .map((u) => JSON.parse(JSON.stringify(u)) as unknown),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.string(), fc.array(fc.string())) },
);

const record: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .record(
        {
          version: fc.constantFrom(1, 1, 1, 2),
          apiBaseUrl: maybe(fc.webUrl()),
          lastVerifyAt: maybe(fc.string()),
          lastCompleteRead: maybe(fc.record({ at: fc.string(), directoryUsers: fc.nat() })),
          users: fc.oneof(
            { weight: 10, arbitrary: fc.dictionary(fc.string(), userEntry, { maxKeys: 6 }) },
            { weight: 1, arbitrary: fc.array(userEntry) },
          ),
          unknownTopKey: maybe(fc.string()),
        },
        { requiredKeys: ['version', 'users'] },
      )
      .map((r) => JSON.parse(JSON.stringify(r)) as unknown),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.array(fc.integer()), fc.string()) },
);

describe('parseStateRecord', () => {
  it('gives what StateRecord.safeParse gives, for any record JSON.parse can return', () => {
    fc.assert(
      fc.property(record, (input) => {
        const zod = StateRecord.safeParse(input);
        expect(parseStateRecord(input)).toEqual(zod.success ? zod.data : undefined);
      }),
      { numRuns: 2000 },
    );
  });

  it('takes users of the usual shape as they are, and leaves a pending toggle to zod', () => {
    const plain = { email: 'a@x.com', rank: 'ADMIN', computerUsernames: ['a'], smartcards: [] };
    const pending = {
      email: 'b@x.com',
      pendingToggle: { want: 'SUSPENDED', from: 'ACTIVE', sentAt: '2026-11-30T08:00:00Z' },
    };

    const parsed = parseStateRecord({ version: 1, users: { '1': plain, '2': pending } });

    expect(parsed?.users['1']).toBe(plain);
    expect(parsed?.users['2']).toEqual(pending);
    expect(parseStateRecord({ version: 1, users: { '1': { ...plain, rank: 'OWNER' } } })).toBe(
      undefined,
    );
  });
});
