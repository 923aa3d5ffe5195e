import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createLogger } from '../../../src/log.js';
import { startScimServer, type ScimServer } from '../../../src/scim/server.js';
import { ScimService } from '../../../src/scim/service.js';
import { SqliteScimStore } from '../../../src/scim/store.js';

const OLD_TOKEN = 'old-token-0123456789abcdef';
const NEW_TOKEN = 'new-token-fedcba9876543210';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

let server: ScimServer | undefined;
let store: SqliteScimStore | undefined;
let logged = '';

afterEach(async () => {
  await server?.close();
  store?.close();
  server = undefined;
  logged = '';
});

async function start(maxBodyBytes = 64 * 1024): Promise<ScimServer> {
  store = SqliteScimStore.open(':memory:');
  const s = store;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged += chunk.toString();
      done();
    },
  });
  server = await startScimServer({
    host: '127.0.0.1',
    port: 0,
    basePath: '/scim/v2',
    tokens: [OLD_TOKEN, NEW_TOKEN],
    maxBodyBytes,
    logger: createLogger({ level: 'debug', stream, format: 'json' }),
    service: (baseUrl) => new ScimService({ store: s, baseUrl }),
  });
  return server;
}

async function send(
  method: string,
  path: string,
  options: { token?: string; body?: string; contentType?: string } = {},
): Promise<{ status: number; type: string | undefined; body: Record<string, unknown> }> {
  const res = await request(`${server!.url}${path}`, {
    method: method as 'GET',
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.body === undefined
        ? {}
        : { 'content-type': options.contentType ?? 'application/scim+json' }),
    },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    type: res.headers['content-type'] as string | undefined,
    body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>,
  };
}

describe('the SCIM listener', () => {
  it('answers 401 without a token or with a wrong one, and accepts each configured token (rotation)', async () => {
    await start();

    const none = await send('GET', '/Users');
    const wrong = await send('GET', '/Users', { token: `${OLD_TOKEN}x` });
    const old = await send('GET', '/Users', { token: OLD_TOKEN });
    const rotated = await send('GET', '/Users', { token: NEW_TOKEN });

    expect([none.status, wrong.status, old.status, rotated.status]).toEqual([401, 401, 200, 200]);
    expect(none.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '401',
    });
    expect(logged).not.toContain(OLD_TOKEN);
    expect(logged).not.toContain(NEW_TOKEN);
  });

  it('speaks application/scim+json, and creates through real HTTP with a location', async () => {
    const s = await start();

    const created = await send('POST', '/Users', {
      token: NEW_TOKEN,
      body: JSON.stringify({ schemas: [USER], userName: 'ann@x.test' }),
    });

    expect(created.status).toBe(201);
    expect(created.type).toMatch(/^application\/scim\+json/);
    expect((created.body['meta'] as { location: string }).location).toBe(
      `${s.url}/Users/${created.body['id'] as string}`,
    );
  });

  it('answers malformed JSON with 400 invalidSyntax and stores nothing', async () => {
    await start();

    const res = await send('POST', '/Users', { token: OLD_TOKEN, body: '{"schemas": [' });

    expect(res.status).toBe(400);
    expect(res.body['scimType']).toBe('invalidSyntax');
    expect(store!.count('User')).toBe(0);
  });

  it('answers a body above the limit with 413 and stores nothing', async () => {
    await start(4096);

    const res = await send('POST', '/Users', {
      token: OLD_TOKEN,
      body: JSON.stringify({ schemas: [USER], userName: 'a@x.test', title: 'x'.repeat(10_000) }),
    });

    expect(res.status).toBe(413);
    expect(store!.count('User')).toBe(0);
  });

  it('refuses a body that is not JSON by its content type (415)', async () => {
    await start();

    const res = await send('POST', '/Users', {
      token: OLD_TOKEN,
      body: 'userName=a@x.test',
      contentType: 'application/x-www-form-urlencoded',
    });

    expect(res.status).toBe(415);
    expect(store!.count('User')).toBe(0);
  });

  it('serves only under the base path', async () => {
    await start();

    const res = await request(`${server!.url.replace('/scim/v2', '')}/Users`, {
      headers: { authorization: `Bearer ${OLD_TOKEN}` },
    });

    expect(res.statusCode).toBe(404);
    await res.body.dump();
  });
});
