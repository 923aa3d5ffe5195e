import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_CHARS } from '../../../src/api/transport.js';
import { ApiError, ConfigError, DirsyncError, describeError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { escapeControl, safeText, truncate } from '../../../src/text.js';
import { JOE, ORIGIN, TOKEN, useHarness } from './harness.js';
import { everythingAbout, leakedPieces } from '../../support/secrets.js';

const setUp = useHarness();

function capture(): { stream: Writable; text: () => string } {
  let output = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      output += chunk.toString();
      done();
    },
  });
  return { stream, text: () => output };
}

// Every offset that puts the token across the cut at MAX_MESSAGE_CHARS, and one on each side.
const STRADDLING = Array.from(
  { length: TOKEN.length + 2 },
  (_, i) => MAX_MESSAGE_CHARS - TOKEN.length + i - 1,
);

describe('a token straddling the cut of a quoted answer', () => {
  it.each(STRADDLING)(
    'never shows, even in part, from a non-JSON error page (at %i)',
    async (at) => {
      const { client, agent } = setUp();
      agent
        .get(ORIGIN)
        .intercept({ method: 'GET', path: () => true })
        .reply(403, `${'x'.repeat(at)}${TOKEN}${'y'.repeat(400)}`);

      const error = await client.getUser(JOE).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ApiError);
      expect(leakedPieces(everythingAbout(error), TOKEN)).toEqual([]);
    },
  );

  it.each(STRADDLING)('never shows, even in part, from a long JSON error (at %i)', async (at) => {
    const { client, on } = setUp();
    on('GET', '/user', {
      status: 400,
      body: { error: `${'x'.repeat(at)}${TOKEN}${'y'.repeat(400)}` },
    });

    const error = await client.getUser(JOE).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(leakedPieces(everythingAbout(error), TOKEN)).toEqual([]);
    // The message is capped: a server cannot fill the terminal or the report.
    expect((error as ApiError).message.length).toBeLessThan(MAX_MESSAGE_CHARS + 100);
  });

  it('scrubs the other secrets the run knows (bind password, webhook URL) the same way', async () => {
    const password = 'ldap-Pa55word-9f2e';
    const webhook = 'https://hooks.example.com/T000/B000/XXXXXXXXXXXXXXXX';
    const { client, agent } = setUp({ secrets: [password, undefined, webhook] });
    agent
      .get(ORIGIN)
      .intercept({ method: 'GET', path: () => true })
      .reply(403, `${'x'.repeat(MAX_MESSAGE_CHARS - 60)}${webhook} ${password}${'y'.repeat(50)}`);

    const error = await client.getUser(JOE).catch((e: unknown) => e);

    expect(leakedPieces(everythingAbout(error), password)).toEqual([]);
    expect(everythingAbout(error)).not.toContain('XXXXXXXX');
  });

  it('stays out of a log line that quotes the error, and the logger scrubs secrets it knows', async () => {
    const out = capture();
    const logger = createLogger({
      format: 'human',
      stream: out.stream,
      secrets: [TOKEN, 'ldap-Pa55word'],
    });
    const { client, on } = setUp({ logger });
    on('GET', '/user', {
      status: 400,
      body: { error: `${'x'.repeat(MAX_MESSAGE_CHARS - 5)}${TOKEN}` },
    });

    const error = await client.getUser(JOE).catch((e: unknown) => e);
    logger.error('run failed', { error: describeError(error) });
    logger.warn(`bind failed for password ldap-Pa55word`, {
      detail: { nested: ['ldap-Pa55word'] },
    });
    await new Promise((resolve) => setImmediate(resolve));

    expect(out.text()).toContain('run failed');
    expect(leakedPieces(out.text(), TOKEN)).toEqual([]);
    expect(out.text()).not.toContain('ldap-Pa55word');
    expect(out.text()).toContain('bind failed for password [redacted]');
  });
});

describe('control characters in an answer', () => {
  const FORGED = 'bad\u001b[2J\u001b]0;pwned\u0007\r\nINFO all good\u009b31m';

  it.each([
    ['a JSON error', { status: 400, body: { error: FORGED } }],
    ['a non-JSON page', { status: 403, text: FORGED }],
  ] as const)('are escaped in %s', async (_name, reply) => {
    const { client, on, agent } = setUp();
    if ('text' in reply)
      agent
        .get(ORIGIN)
        .intercept({ method: 'GET', path: () => true })
        .reply(reply.status, reply.text);
    else on('GET', '/user', reply);

    const error = await client.getUser(JOE).catch((e: unknown) => e);
    const text = describeError(error);

    expect([...text].filter((c) => c < ' ' || (c >= '\u007f' && c <= '\u009f'))).toEqual([]);
    expect(text).toContain('bad\\x1b[2J');
  });

  it('escapes with visible, unambiguous sequences', () => {
    expect(escapeControl('a\u001bb\nc\td\u0000e\u009bf\u202eg')).toBe(
      'a\\x1bb\\nc\\td\\x00e\\x9bf\\u202eg',
    );
    expect(escapeControl('line 1\n  line 2\u001b', { keepNewlines: true })).toBe(
      'line 1\n  line 2\\x1b',
    );
    expect(escapeControl('plain text')).toBe('plain text');
  });

  it('scrubs before it cuts, and cuts no surrogate pair in two', () => {
    expect(safeText(`ab${TOKEN}`, { secrets: [TOKEN], max: 6 })).toBe('ab[red...');
    expect(truncate('ab\u{1F600}cd', 3)).toBe('ab...');
  });
});

describe('one error says its cause once', () => {
  it('leaves out a cause the message already quotes', () => {
    const last = new ApiError('GET /user failed (503): HTTP 503', {
      method: 'GET',
      path: '/user',
      status: 503,
    });
    const gaveUp = new ApiError(
      `${last.message} (gave up after 5 attempts)`,
      { method: 'GET', path: '/user', status: 503 },
      { cause: last },
    );
    const lost = new ApiError(
      'POST /togglesuspension: the answer was lost and the outcome could not be checked',
      { method: 'POST', path: '/togglesuspension' },
      { cause: gaveUp },
    );
    const wrapped = new DirsyncError(describeError(lost), { cause: lost });

    expect(describeError(wrapped)).toBe(
      'POST /togglesuspension: the answer was lost and the outcome could not be checked: GET /user failed (503): HTTP 503 (gave up after 5 attempts)',
    );
  });

  it('keeps a cause that adds something, and takes the fuller of two overlapping texts', () => {
    const root = Object.assign(new Error("EACCES: permission denied, open '/s/x.json'"), {
      code: 'EACCES',
    });
    const outer = new ConfigError('state record /s/x.json cannot be read', { cause: root });
    expect(describeError(outer)).toBe(
      "state record /s/x.json cannot be read: EACCES: permission denied, open '/s/x.json'",
    );

    const short = new Error('listing refused');
    const fuller = new Error('listing refused: element 3 is larger than 1 MiB');
    short.cause = fuller;
    expect(describeError(short)).toBe('listing refused: element 3 is larger than 1 MiB');
  });

  it('says a retried failure once in the error the client throws', async () => {
    const { client, on } = setUp();
    on(
      'GET',
      '/user',
      ...Array.from({ length: 5 }, () => ({ status: 503, body: { error: 'overloaded' } })),
    );

    const error = await client.getUser(JOE).catch((e: unknown) => e);
    const text = describeError(error);

    expect(text.match(/overloaded/g)).toHaveLength(1);
    expect(text.match(/GET \/user failed/g)).toHaveLength(1);
  });

  it('stops on a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(describeError(a)).toBe('a: b');
  });
});
