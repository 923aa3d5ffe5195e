import { describe, expect, it } from 'vitest';
import {
  lastElementEnd,
  ListingDecoder,
  ListingElementTooLargeError,
} from '../../../src/api/listing-stream.js';
import { ListingFormatError, parseListing, type OrgUser } from '../../../src/api/schema.js';
import { ApiError } from '../../../src/errors.js';
import { ORIGIN, listed, useHarness } from './harness.js';

/** Feeds `body` in the given chunks; `minBatchBytes: 0` tries a batch after every chunk. */
function decode(chunks: readonly Buffer[], minBatchBytes = 0): OrgUser[] {
  const decoder = new ListingDecoder('USER', { minBatchBytes });
  for (const chunk of chunks) decoder.push(chunk);
  return decoder.end();
}

function splitEvery(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** What the old path made of the same body. */
const wholeParse = (body: string): OrgUser[] => parseListing(JSON.parse(body), 'USER');

const tricky = [
  listed(1001, { first_name: 'Zoë', last_name: '李小龍', name: 'Zoë 🙂 李' }),
  listed(1002, { username: 'a},{"b":1},{', last_name: 'ends with }' }),
  listed(1003, { name: 'a ] b ]]', first_name: 'say \\"hi\\" \\\\', username: '\\' }),
  listed(1004, {
    meta: { deep: { text: '},{', list: [{ a: '}]' }, [[{}]]] }, more: '"}' },
    groups: [['Employees'], ['R&D }']],
  }),
  listed(1005, { first_name: null, groups: null }),
];

describe('ListingDecoder', () => {
  it.each([
    ['compact', JSON.stringify(tricky)],
    ['pretty-printed', JSON.stringify(tricky, null, 2)],
    [
      'with CRLF and tabs',
      `\r\n\t[ ${tricky.map((u) => JSON.stringify(u)).join(' ,\r\n\t')} ]\r\n`,
    ],
  ])(
    'decodes a %s listing the same at every chunk boundary, multi-byte characters split',
    (_name, body) => {
      const buf = Buffer.from(body);
      const expected = wholeParse(body);
      expect(expected.map((u) => u.name)).toContain('Zoë 🙂 李');

      for (let cut = 0; cut <= buf.length; cut++) {
        const users = decode([buf.subarray(0, cut), buf.subarray(cut)]);
        expect(users, `split at byte ${cut}`).toEqual(expected);
      }
      expect(decode(splitEvery(buf, 1))).toEqual(expected);
      expect(decode(splitEvery(buf, 7))).toEqual(expected);
    },
  );

  it.each([
    ['[]', 0],
    [' [ ] \n', 0],
    ['\uFEFF[]', 0],
    [`\uFEFF${JSON.stringify([listed(1001)])}`, 1],
  ])('decodes %j', (body, count) => {
    const buf = Buffer.from(body);
    for (let cut = 0; cut <= buf.length; cut++) {
      expect(decode([buf.subarray(0, cut), buf.subarray(cut)])).toHaveLength(count);
    }
  });

  it('refuses every truncation of a valid listing', () => {
    const body = Buffer.from(JSON.stringify(tricky));
    for (let end = 0; end < body.length; end++) {
      const chunks = splitEvery(body.subarray(0, end), 40);
      expect(() => decode(chunks), `cut after ${end} bytes`).toThrow(ListingFormatError);
    }
    const nearEnd = body.subarray(0, body.length - 10);
    expect(() => decode([nearEnd])).toThrow(
      `the body ends before its array does: cut short after ${nearEnd.length} bytes`,
    );
  });

  const one = JSON.stringify(listed(1001));
  const two = JSON.stringify(listed(1002));
  it.each([
    ['a trailing comma', `[${one},]`],
    ['a missing comma between elements', `[${one}${two}]`],
    ['a leading comma', `[,${one}]`],
    ['text after the array', `[${one},${two}] x`],
    ['a second array after the first', `[${one}][${two}]`],
    ['an object after the array', `[${one}] {"a": {"b": 1}}`],
    ['a bad literal', `[${one},nul]`],
    ['a proxy page that starts with [', '[error] upstream timed out'],
  ])('refuses invalid JSON: %s', (_name, body) => {
    const buf = Buffer.from(body);
    for (const chunks of [[buf], splitEvery(buf, 1), splitEvery(buf, 50)]) {
      expect(() => decode(chunks)).toThrow(/^the body is not valid JSON: /);
    }
  });

  it('keeps the body out of a syntax error message', () => {
    const body = `[${one},{"email": "secret-value@corp", oops}]`;
    const error = (() => {
      try {
        decode([Buffer.from(body)]);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ListingFormatError);
    expect(error?.message).toMatch(/^the body is not valid JSON: [^"]*$/);
    expect(error?.message).not.toContain('oops');
  });

  it.each([
    ['an object', '{"error": "no"}'],
    ['an empty body', ''],
    ['whitespace', '  \n '],
    ['null', 'null'],
    ['a string', '"[]"'],
  ])('refuses %s as not a JSON array of users', (_name, body) => {
    expect(() => decode(splitEvery(Buffer.from(body), 1))).toThrow(
      'the body is not a JSON array of users',
    );
  });

  it('names a bad element by its index in the whole listing', () => {
    const users = Array.from({ length: 20_000 }, (_, i) =>
      listed(1001 + i, i === 12_345 ? { email: 42 } : {}),
    );
    const body = Buffer.from(JSON.stringify(users));

    expect(() => decode(splitEvery(body, 64 * 1024), 64 * 1024)).toThrow(
      /^user \[12345\]\.email: /,
    );
    expect(() => decode(splitEvery(body, 1000))).toThrow(/^user \[12345\]\.email: /);
  });

  it('decodes 20k users in 64 KiB chunks as parseListing does, while they arrive', () => {
    const users = Array.from({ length: 20_000 }, (_, i) =>
      listed(1001 + i, {
        first_name: i % 7 === 0 ? 'Zoë' : 'Joe',
        groups: [['Employees'], ['Staff']],
      }),
    );
    const body = JSON.stringify(users);
    const chunks = splitEvery(Buffer.from(body), 64 * 1024);

    const decoder = new ListingDecoder('USER');
    for (const chunk of chunks.slice(0, -1)) decoder.push(chunk);
    // Streamed: nearly all of it is decoded before the last chunk arrives.
    expect(decoder.count).toBeGreaterThan(19_000);
    const last = chunks.at(-1);
    if (last !== undefined) decoder.push(last);

    expect(decoder.end()).toEqual(wholeParse(body));
  });

  it('stays linear when no element ends for a long time', () => {
    // One element of 4 MB in 1 KiB chunks: without the back-off this is ~4,000 full re-parses.
    // Counted, not timed (bench/hot-paths.ts times it): the text handed to JSON.parse in all.
    const huge = listed(1001, { blob: '}'.repeat(4 * 1024 * 1024) });
    const body = Buffer.from(JSON.stringify([huge, listed(1002)]));
    const decoder = new ListingDecoder('USER', {
      minBatchBytes: 0,
      maxElementBytes: 8 * 1024 ** 2,
    });
    // A counting JSON.parse (a spy would keep every text it was given: gigabytes if this fails).
    const realParse = JSON.parse;
    let parses = 0;
    let parsed = 0;
    JSON.parse = (text: string, reviver?: Parameters<typeof JSON.parse>[1]): unknown => {
      parses++;
      parsed += text.length;
      return realParse(text, reviver) as unknown;
    };

    let users: OrgUser[];
    try {
      for (const chunk of splitEvery(body, 1024)) decoder.push(chunk);
      users = decoder.end();
    } finally {
      JSON.parse = realParse;
    }

    expect(users.map((u) => u.emailId)).toEqual([1001, 1002]);
    expect(parses).toBeGreaterThan(0);
    expect(parses).toBeLessThan(50);
    expect(parsed).toBeLessThan(4 * body.length);
  });
});

describe('lastElementEnd', () => {
  it.each([
    ['{"a":1},{"b":2}', 14],
    ['{"a":1},{"b":', 6],
    ['{"a":"}"},{"b":"}', 8],
    ['{"a":"\\\\"},{"b":"\\"}', 9],
    ['{"a":{"b":{}}},{"c":{"d":1}', 13],
    ['{"a":1}],{"b":2}', 6],
    ['{"a":[1,{"x":"]"}', -1],
  ])('%s -> %i', (text, end) => {
    expect(lastElementEnd(Buffer.from(text), 0)).toBe(end);
  });
});

describe('listUsers on a 2xx answer', () => {
  const setUp = useHarness();

  /** One 200 to `GET /multipleusers` with this exact body text. */
  function answering(body: string, contentType = 'application/json'): ReturnType<typeof setUp> {
    const h = setUp();
    h.agent
      .get(ORIGIN)
      .intercept({ method: 'GET', path: (p) => p.startsWith('/multipleusers') })
      .reply(200, body, { headers: { 'content-type': contentType } });
    return h;
  }

  it.each([
    [
      '`{"error": ...}` as a failure (contract note 5)',
      '{"error": "listing unavailable"}',
      {
        message: 'GET /multipleusers failed (200): listing unavailable',
      },
    ],
    [
      'a proxy page as not JSON, with the proxy hint',
      '<html>Blocked by policy</html>',
      {
        message:
          'GET /multipleusers failed (200): the answer is not JSON: <html>Blocked by policy</html>',
        hint: expect.stringMatching(/proxy/) as unknown,
      },
    ],
    [
      'a JSON object without `error` as not a listing',
      '{"users": []}',
      {
        message:
          'GET /multipleusers gave an unexpected answer: the body is not a JSON array of users',
      },
    ],
    [
      'an array that is not valid JSON',
      `[${JSON.stringify(listed(1001))},`,
      {
        message: expect.stringMatching(
          /^GET \/multipleusers gave an unexpected answer: the body ends before its array does/,
        ) as unknown,
        hint: expect.stringMatching(/proxy/) as unknown,
      },
    ],
    [
      'a bad element, named by its index',
      JSON.stringify([listed(1001), listed(1002, { email_id: 0 })]),
      {
        message:
          'GET /multipleusers gave an unexpected answer: user [1].email_id: Too small: expected number to be >0',
      },
    ],
  ])('refuses %s, without retrying', async (_name, body, expected) => {
    const { client, sent } = answering(body);

    const error = await client.listUsers().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ path: '/multipleusers', status: 200, ...expected });
    expect(sent).toHaveLength(1);
  });

  it('decodes a listing after whitespace and a BOM', async () => {
    const { client } = answering(`\uFEFF \n ${JSON.stringify([listed(1001), listed(1002)])}`);

    const users = await client.listUsers({ tag: 'GUEST' });

    expect(users.map((u) => [u.emailId, u.tag])).toEqual([
      [1001, 'GUEST'],
      [1002, 'GUEST'],
    ]);
  });
});

describe('ListingDecoder element limit', () => {
  const limited = (chunks: readonly Buffer[], maxElementBytes: number): OrgUser[] => {
    const decoder = new ListingDecoder('USER', { minBatchBytes: 0, maxElementBytes });
    for (const chunk of chunks) decoder.push(chunk);
    return decoder.end();
  };
  const small = [1, 2, 3].map((id) => listed(id, { name: 'n'.repeat(100) }));

  it('accepts elements up to the limit at every chunk boundary', () => {
    const buf = Buffer.from(` [ ${small.map((u) => JSON.stringify(u)).join(' , ')} ] `);
    const size = Math.max(...small.map((u) => JSON.stringify(u).length));
    for (let cut = 0; cut <= buf.length; cut++) {
      expect(
        limited([buf.subarray(0, cut), buf.subarray(cut)], size),
        `split at ${cut}`,
      ).toHaveLength(3);
    }
  });

  it('refuses an element over the limit at every chunk boundary, naming where it starts', () => {
    const users = [small[0], listed(9, { name: 'B'.repeat(2000) }), small[1]];
    const body = JSON.stringify(users);
    const buf = Buffer.from(body);
    const start = body.indexOf('{', 1 + JSON.stringify(small[0]).length);
    for (let cut = 0; cut <= buf.length; cut += 7) {
      expect(
        () => limited([buf.subarray(0, cut), buf.subarray(cut)], 1024),
        `split at ${cut}`,
      ).toThrow(ListingElementTooLargeError);
    }
    expect(() => limited([buf], 1024)).toThrow(`the element at byte ${start} is `);
  });
});
