import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../src/api/client.js';
import { ApiError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { JOE, JOE_USER_ID, LOST, OK, TOKEN, harness } from './harness.js';
import { everythingAbout } from '../../support/secrets.js';

let active: ReturnType<typeof harness> | undefined;
afterEach(async () => {
  await active?.agent.close();
  active = undefined;
});
function setUp(...args: Parameters<typeof harness>): ReturnType<typeof harness> {
  active = harness(...args);
  return active;
}

describe('the token never leaks', () => {
  it('is scrubbed from a server message that echoes it', async () => {
    const { client, on } = setUp();
    on('POST', '/modifyrank', {
      status: 401,
      body: { error: `token "Bearer ${TOKEN}" is not valid` },
    });

    const error = await client.setRank(JOE_USER_ID, 'ADMIN').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(String(error)).toContain('Bearer [redacted]');
    expect(everythingAbout(error)).not.toContain(TOKEN);
  });

  it('is scrubbed from a non-JSON error page that echoes it', async () => {
    const { client, agent } = setUp();
    agent
      .get('https://api.example.test')
      .intercept({ method: 'GET', path: () => true })
      .reply(403, `<h1>Denied</h1><pre>Authorization: Bearer ${TOKEN}</pre>`);

    const error = await client.getUser(JOE).catch((e: unknown) => e);

    expect(String(error)).toContain('Denied');
    expect(everythingAbout(error)).not.toContain(TOKEN);
  });

  it('is scrubbed from a transport error and its cause', async () => {
    const { client, on } = setUp();
    on('GET', '/user', {
      error: Object.assign(new Error(`invalid header authorization: Bearer ${TOKEN}`), {
        code: 'UND_ERR_INVALID_ARG',
      }),
    });

    const error = await client.getUser(JOE).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(everythingAbout(error)).not.toContain(TOKEN);
    expect(((error as ApiError).cause as { code?: string }).code).toBe('UND_ERR_INVALID_ARG');
  });

  it('stays out of the logs, at debug level, through retries and failures', async () => {
    let output = '';
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        output += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ level: 'debug', format: 'json', stream });
    const { client, on } = setUp({ logger });
    on('POST', '/modifyallusernames', { status: 503 }, LOST, OK);
    on('POST', '/togglesuspension', LOST);
    on('GET', '/multipleusers', { status: 200, body: [] }, { status: 200, body: [] });
    on('GET', '/user', { status: 401, body: { error: `bad token ${TOKEN}` } });

    await client.setComputerUsernames(JOE, ['x']);
    await client.setSuspended(JOE, true, { observed: 'ACTIVE' }).catch(() => undefined);
    await client.getUser(JOE).catch((e: unknown) => logger.error('call failed', { error: e }));
    await new Promise((resolve) => setImmediate(resolve));

    expect(output).toContain('API request failed, retrying');
    expect(output).toContain('"path":"/modifyallusernames"');
    expect(output).not.toContain(TOKEN);
  });

  it('does not show in an inspected or serialised client', () => {
    const client = new ApiClient({ baseUrl: 'https://api.example.test', token: TOKEN, env: {} });
    expect(inspect(client, { depth: 6, showHidden: true })).not.toContain(TOKEN);
    expect(
      JSON.stringify(Object.entries(client), (_k, v: unknown) =>
        typeof v === 'function' ? undefined : v,
      ),
    ).not.toContain(TOKEN);
    void client.close();
  });

  it('is refused when empty, with a hint, and never echoed', () => {
    expect(() => new ApiClient({ baseUrl: 'https://api.example.test', token: ' ' })).toThrow(
      /api\.token is empty/,
    );
  });
});
