import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient, type ApiClientOptions } from '../../../src/api/client.js';
import { ApiError, ConfigError } from '../../../src/errors.js';
import type { MockServer } from '../../../src/mock/server.js';
import { startForwardingProxy, type ForwardingProxy } from './forwarding-proxy.js';
import { SUPER_TOKEN, aSeed, startMock } from './mock-fixture.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`fixtures/${name}`, import.meta.url));
const CA_FILE = fixture('proxy-ca.pem');
/** A name that resolves nowhere: reaching it at all proves the request went via the proxy. */
const API_HOST = 'users-api.test';

let mock: MockServer | undefined;
let proxy: ForwardingProxy | undefined;
let client: ApiClient | undefined;

afterEach(async () => {
  await client?.close();
  await proxy?.close();
  await mock?.close();
  client = proxy = mock = undefined;
  vi.unstubAllEnvs();
});

/** The mock, and a proxy that lets through only loopback and the fake API host (to the mock). */
async function setUp(inspect = false): Promise<{ mock: MockServer; proxy: ForwardingProxy }> {
  mock = await startMock(aSeed());
  const mockPort = mock.port;
  proxy = await startForwardingProxy({
    route: (host, port) => {
      if (host === API_HOST && (port === 443 || port === 80))
        return { host: '127.0.0.1', port: mockPort };
      if (host === '127.0.0.1') return { host, port };
      return undefined;
    },
    ...(inspect
      ? {
          inspectWith: {
            key: readFileSync(fixture('users-api.test.key'), 'utf8'),
            cert: readFileSync(fixture('users-api.test.pem'), 'utf8'),
          },
        }
      : {}),
  });
  return { mock, proxy };
}

function makeClient(options: Partial<ApiClientOptions> & { baseUrl: string }): ApiClient {
  client = new ApiClient({
    token: SUPER_TOKEN,
    retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 3, settleMs: 1 },
    timeouts: { connectMs: 2000 },
    ...options,
  });
  return client;
}

describe('ApiClient behind a proxy', () => {
  it('tunnels through HTTP_PROXY from the injected environment', async () => {
    const { mock: m, proxy: p } = await setUp();
    const api = makeClient({
      baseUrl: `http://${API_HOST}`,
      allowPlaintext: true,
      env: { HTTP_PROXY: p.url },
    });

    const users = await api.listUsers();

    expect(users.map((u) => u.email)).toContain('owner@corp.example.com');
    expect(p.connects).toEqual([`${API_HOST}:80`]);
    expect(m.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', '/multipleusers', 200],
    ]);
  });

  it.each([
    ['127.0.0.1', 'HTTP_PROXY'],
    ['localhost', 'http_proxy'],
    ['127.0.0.1', 'HTTPS_PROXY'],
  ])(
    'never sends a loopback base URL (%s) through %s: the token would cross the proxy in clear',
    async (host, variable) => {
      const { mock: m, proxy: p } = await setUp();
      const api = makeClient({ baseUrl: `http://${host}:${m.port}`, env: { [variable]: p.url } });

      await api.listUsers();

      expect(p.connects).toEqual([]);
      expect(m.requests.map((r) => [r.method, r.path, r.status])).toEqual([
        ['GET', '/multipleusers', 200],
      ]);
    },
  );

  it('goes direct for hosts in NO_PROXY', async () => {
    const { mock: m, proxy: p } = await setUp();
    const api = makeClient({
      baseUrl: m.url,
      env: { http_proxy: p.url, no_proxy: 'localhost,127.0.0.1' },
    });

    await api.listUsers();

    expect(p.connects).toEqual([]);
    expect(m.requests).toHaveLength(1);
  });

  it('reads proxy settings only from the injected env, not from process.env', async () => {
    const { mock: m, proxy: p } = await setUp();
    vi.stubEnv('HTTP_PROXY', p.url);
    vi.stubEnv('http_proxy', p.url);
    const api = makeClient({ baseUrl: m.url, env: {} });

    await api.listUsers();

    expect(p.connects).toEqual([]);
  });

  it('trusts a TLS-inspecting proxy given its CA in caFile', async () => {
    const { mock: m, proxy: p } = await setUp(true);
    const api = makeClient({
      baseUrl: `https://${API_HOST}`,
      env: { HTTPS_PROXY: p.url },
      caFile: CA_FILE,
    });

    const users = await api.listUsers({ tag: 'GUEST' });
    await api.setComputerUsernames(
      (await api.listUsers()).find((u) => u.email === 'reader@corp.example.com')?.emailId ??
        expect.unreachable(),
      ['reader'],
    );

    expect(users).toEqual([]);
    expect(p.connects.every((c) => c === `${API_HOST}:443`)).toBe(true);
    expect(
      m.store.organizations[0]?.findByEmail('reader@corp.example.com')?.computer_usernames,
    ).toEqual(['reader']);
  });

  it('refuses an untrusted certificate without retrying, and names caFile as the fix', async () => {
    const { mock: m, proxy: p } = await setUp(true);
    const api = makeClient({ baseUrl: `https://${API_HOST}`, env: { HTTPS_PROXY: p.url } });

    const error = await api.listUsers().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).hint).toMatch(/api\.tls\.caFile/);
    expect(String(error)).not.toContain(SUPER_TOKEN);
    expect(p.connects).toHaveLength(1);
    expect(m.requests).toHaveLength(0);
  });

  it('reports an unreadable caFile as a configuration error', () => {
    expect(
      () =>
        new ApiClient({
          baseUrl: 'https://users-api.test',
          token: SUPER_TOKEN,
          env: {},
          caFile: fixture('missing.pem'),
        }),
    ).toThrow(ConfigError);
  });
});
