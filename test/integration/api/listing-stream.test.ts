import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../src/api/client.js';
import type { RetryEvent } from '../../../src/api/sender.js';
import { ApiError } from '../../../src/errors.js';
import type { MockServer } from '../../../src/mock/server.js';
import { SUPER_TOKEN, aSeed, aSeedUser, clientFor, startMock } from './mock-fixture.js';

interface TestServer {
  url: string;
  /** Paths asked for, in order (query included). */
  seen: string[];
  close(): Promise<void>;
}

async function listen(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A pass-through HTTP proxy in front of the mock that, for the first `cuts` listings, sends the
 * headers (with the full content-length) and the first `cutAfter` bytes of the body, then cuts
 * the connection: what a reset in the middle of a 20 MB download looks like to the client.
 */
function cuttingProxy(target: string, cuts: number, cutAfter: number): Promise<TestServer> {
  let left = cuts;
  return listen((req, res) => {
    const upstream = request(
      `${target}${req.url ?? ''}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const cut = (req.url ?? '').startsWith('/multipleusers') && left-- > 0;
        if (!cut) {
          answer.pipe(res);
          return;
        }
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          if (sent >= cutAfter) return;
          const part = chunk.subarray(0, cutAfter - sent);
          sent += part.length;
          if (sent < cutAfter) res.write(part);
          else res.write(part, () => res.socket?.destroy());
        });
      },
    );
    req.pipe(upstream);
  });
}

/** Answers every request with `status` and exactly `body`. */
function answering(status: number, body: string, contentType: string): Promise<TestServer> {
  return listen((_req, res) => {
    res.writeHead(status, { 'content-type': contentType }).end(body);
  });
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function mockOf(users: number): Promise<MockServer> {
  const server = await startMock(
    aSeed(
      Array.from({ length: users }, (_, i) =>
        aSeedUser({ email: `user${i}@corp.example.com`, first_name: `Zoë ${i}`, groups: ['All'] }),
      ),
    ),
  );
  closers.push(() => server.close());
  return server;
}

describe('the streamed listing over HTTP', () => {
  it('retries a listing whose connection is cut mid-body and returns it whole', async () => {
    const mock = await mockOf(3000);
    const direct = clientFor(mock).client;
    closers.push(() => direct.close());
    const expected = await direct.listUsers();
    const raw = await fetch(`${mock.url}/multipleusers`, {
      headers: { authorization: `Bearer ${SUPER_TOKEN}` },
    });
    const bodyBytes = (await raw.arrayBuffer()).byteLength;

    // Past the first decoded batches (128 KiB), well short of the end.
    const proxy = await cuttingProxy(mock.url, 2, 300 * 1024);
    closers.push(() => proxy.close());
    const retries: RetryEvent[] = [];
    const { client } = clientFor({ ...mock, url: proxy.url }, { onRetry: (e) => retries.push(e) });
    closers.push(() => client.close());

    const users = await client.listUsers();

    expect(bodyBytes).toBeGreaterThan(600 * 1024);
    expect(users).toEqual(expected);
    expect(proxy.seen.filter((p) => p.startsWith('/multipleusers'))).toHaveLength(3);
    expect(retries.map((r) => [r.path, r.status, r.attempt])).toEqual([
      ['/multipleusers', undefined, 1],
      ['/multipleusers', undefined, 2],
    ]);
  });

  it('gives up on a listing cut every time with a transport error, after the retry budget', async () => {
    const mock = await mockOf(2000);
    const proxy = await cuttingProxy(mock.url, 100, 200 * 1024);
    closers.push(() => proxy.close());
    const { client } = clientFor(
      { ...mock, url: proxy.url },
      { retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 3 } },
    );
    closers.push(() => client.close());

    const error = await client.listUsers().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      path: '/multipleusers',
      status: undefined,
      message: expect.stringMatching(
        /^GET \/multipleusers failed: .*\(gave up after 3 attempts\)$/,
      ) as unknown,
    });
    expect(proxy.seen).toHaveLength(3);
  });

  it.each([
    [
      'a 2xx `{"error": ...}`',
      '{"error": "listing unavailable"}',
      'application/json',
      'GET /multipleusers failed (200): listing unavailable',
    ],
    [
      'a 2xx that is not JSON',
      '<html><body>Access denied by the proxy</body></html>',
      'text/html',
      'GET /multipleusers failed (200): the answer is not JSON: <html><body>Access denied by the proxy</body></html>',
    ],
  ])('fails once, as before, on %s', async (_name, body, contentType, message) => {
    const server = await answering(200, body, contentType);
    closers.push(() => server.close());
    const client = new ApiClient({ baseUrl: server.url, token: 'a-token', env: {} });
    closers.push(() => client.close());

    const error = await client.listUsers().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 200, message });
    expect(server.seen).toHaveLength(1);
  });
});
