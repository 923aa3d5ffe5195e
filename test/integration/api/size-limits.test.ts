import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, type ApiClientOptions } from '../../../src/api/client.js';
import { asEmailId } from '../../../src/api/ids.js';
import { ApiError, describeError } from '../../../src/errors.js';

/** A `/multipleusers` element as the API sends it. */
function element(id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    email: `user${id}@corp.example.com`,
    email_id: id,
    user_id: id + 5_000_000,
    first_name: 'Joe',
    last_name: 'Dev',
    ad_status: 'ACTIVE',
    ...extra,
  };
}

interface Served {
  url: string;
  /** Bytes of body the server managed to write before the client went away or it finished. */
  written: () => number;
  requests: () => number;
  close(): Promise<void>;
}

/**
 * A loopback server whose handler writes chunks while the client reads them (backpressure
 * honoured), and stops when the client closes the connection: what it wrote is what was read.
 */
async function serve(
  body: (res: ServerResponse, write: (chunk: string) => Promise<boolean>) => Promise<void>,
  status = 200,
): Promise<Served> {
  let written = 0;
  let requests = 0;
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    requests++;
    res.writeHead(status, { 'content-type': 'application/json' });
    let gone = false;
    res.on('close', () => (gone = true));
    const write = async (chunk: string): Promise<boolean> => {
      if (gone) return false;
      written += Buffer.byteLength(chunk);
      if (!res.write(chunk))
        await new Promise<void>((resolve) => {
          // One listener of each at a time: a once('close') left per drain piles up.
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      return !gone;
    };
    void body(res, write).then(() => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    written: () => written,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let server: Served | undefined;
let client: ApiClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

function clientOf(s: Served, options: Partial<ApiClientOptions> = {}): ApiClient {
  client = new ApiClient({
    baseUrl: s.url,
    token: 'tok-size-limits',
    env: {},
    retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 3, settleMs: 1 },
    ...options,
  });
  return client;
}

const MiB = 1024 * 1024;

describe('size limits on answers', () => {
  it('refuses a listing element over api.maxListingElementBytes without reading it whole', async () => {
    // One user whose name grows for up to 64 MiB: without a limit it is read, held and parsed.
    server = await serve(async (_res, write) => {
      await write(`[${JSON.stringify(element(1))},{"email":"big@corp.example.com","name":"`);
      const piece = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 1024; i++) if (!(await write(piece))) return;
      await write(`","email_id":2,"user_id":5000002,"ad_status":"ACTIVE"}]`);
    });
    const api = clientOf(server);

    const error = await api.listUsers().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(describeError(error)).toMatch(/api\.maxListingElementBytes/);
    expect(describeError(error)).toMatch(/over the limit of 1 MiB/);
    expect((error as ApiError).hint).toMatch(/raise api\.maxListingElementBytes/);
    // Refused when twice the limit was held, not after 64 MiB; and never retried.
    expect(server.written()).toBeLessThan(8 * MiB);
    expect(server.requests()).toBe(1);
  });

  it('refuses an element over a configured limit that arrived whole in one batch', async () => {
    const big = element(2, { name: 'y'.repeat(5000) });
    server = await serve(async (_res, write) => {
      await write(JSON.stringify([element(1), big, element(3)]));
    });
    const api = clientOf(server, { limits: { listingElementBytes: 4096 } });

    const error = await api.listUsers().catch((e: unknown) => e);

    expect(describeError(error)).toMatch(
      /GET \/multipleusers refused: the element at byte \d+ is \d+ bytes, over the limit of 4 KiB \(api\.maxListingElementBytes\)/,
    );
  });

  it('accepts a listing of many elements each under the element limit', async () => {
    const users = Array.from({ length: 50 }, (_, i) => element(i + 1, { name: 'z'.repeat(900) }));
    server = await serve(async (_res, write) => {
      await write(JSON.stringify(users));
    });
    const api = clientOf(server, { limits: { listingElementBytes: 2048 } });

    expect(await api.listUsers()).toHaveLength(50);
  });

  it('refuses a whole listing over api.maxListingBytes, and stops reading it', async () => {
    server = await serve(async (_res, write) => {
      await write('[');
      for (let i = 1; i <= 200_000; i++)
        if (!(await write(`${i === 1 ? '' : ','}${JSON.stringify(element(i))}`))) return;
      await write(']');
    });
    const api = clientOf(server, { limits: { listingBytes: MiB } });

    const error = await api.listUsers().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(describeError(error)).toMatch(/larger than 1 MiB \(api\.maxListingBytes\)/);
    expect(server.written()).toBeLessThan(8 * MiB);
    expect(server.requests()).toBe(1);
  });

  it('refuses a detail answer over api.maxBodyBytes', async () => {
    server = await serve(async (_res, write) => {
      await write(
        `{"policies":[],"computer_usernames":["${'u'.repeat(3 * MiB)}"],"smartcards":[]}`,
      );
    });
    const api = clientOf(server, { limits: { bodyBytes: MiB } });

    const error = await api.getUser(asEmailId(7)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(describeError(error)).toMatch(
      /GET \/user failed \(200\): the answer is larger than 1 MiB \(api\.maxBodyBytes\)/,
    );
    expect(server.requests()).toBe(1);
  });

  it('quotes the beginning of an error page over the limit, and still retries a 503', async () => {
    server = await serve(async (_res, write) => {
      await write(`<h1>Overloaded</h1>${' '.repeat(2 * MiB)}`);
    }, 503);
    const api = clientOf(server, { limits: { bodyBytes: MiB } });

    const error = await api.getUser(asEmailId(7)).catch((e: unknown) => e);

    expect(describeError(error)).toMatch(
      /GET \/user failed \(503\): HTTP 503: <h1>Overloaded<\/h1>/,
    );
    expect(server.requests()).toBe(3);
  });
});
