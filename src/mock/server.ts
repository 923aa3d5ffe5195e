import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfigError, DirsyncError } from '../errors.js';
import { createSilentLogger, type Logger } from '../log.js';
import { FaultInjector, LISTING_PATH, parseFaults, type Faults } from './faults.js';
import { HttpError, routes, type Params, type Reply, type Route } from './routes.js';
import { AdStatus, Rank, SeedSmartcard, Tag, type Seed } from './seed.js';
import { MockStore } from './store.js';

export interface RequestRecord {
  method: string;
  path: string;
  params: Params;
  status: number;
  /**
   * Set when a fault shaped the answer; `drop` means applied, then the connection was cut;
   * `cached` means a copy served by the gateway cache (`cacheListingsMs`).
   */
  fault?: '429' | '5xx' | 'drop' | 'cached';
}

/** `POST /_mock/users/{email_id}`: a hand edit, as an administrator would make in the web UI. */
const HandEdit = z.strictObject({
  ad_status: AdStatus.optional(),
  rank: Rank.optional(),
  tag: Tag.optional(),
  computer_usernames: z.array(z.string().min(1)).optional(),
  smartcards: z.array(SeedSmartcard).optional(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
});

export interface MockServerOptions {
  seed: Seed;
  faults?: Faults;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback unless told otherwise. */
  host?: string;
  logger?: Logger;
}

export interface MockServer {
  url: string;
  port: number;
  store: MockStore;
  requests: RequestRecord[];
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

const routeTable = new Map<string, Map<string, Route>>();
for (const route of routes) {
  let byMethod = routeTable.get(route.path);
  if (byMethod === undefined) {
    byMethod = new Map();
    routeTable.set(route.path, byMethod);
  }
  byMethod.set(route.method, route);
}

function send(
  res: ServerResponse,
  status: number,
  json: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void {
  send(res, status, JSON.stringify({ error: message }), headers);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(req: IncomingMessage, text: string): Params {
  if (text.trim() === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'request body is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new HttpError(400, 'a JSON request body must be an object of parameters');
    }
    return value as Params;
  }
  if (type === undefined || type === '' || type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(text));
  }
  throw new HttpError(
    415,
    `content-type ${type} is not supported; use application/x-www-form-urlencoded or application/json`,
  );
}

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * The mock Users API: every endpoint and contract note of docs/users-api.md, a test surface under
 * `/_mock/` (state and request log, never faulted, no auth) and seeded fault injection.
 */
export async function startMockServer(options: MockServerOptions): Promise<MockServer> {
  const store = MockStore.fromSeed(options.seed);
  let injector = new FaultInjector(options.faults);
  const requests: RequestRecord[] = [];
  /** The gateway cache of `cacheListingsMs`: token + query -> the answer and when it expires. */
  const listingCache = new Map<string, { json: Buffer; expires: number }>();
  const logger = options.logger ?? createSilentLogger();

  async function handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    route: Route,
  ): Promise<void> {
    const method = route.method;
    const path = route.path;
    let params: Params = {};
    const record = (status: number, fault?: RequestRecord['fault']): void => {
      requests.push(
        fault === undefined
          ? { method, path, params, status }
          : { method, path, params, status, fault },
      );
    };

    let reply: Reply;
    try {
      if (method === 'POST') params = parseBody(req, await readBody(req));
      else params = Object.fromEntries(url.searchParams);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      record(error.status);
      sendError(res, error.status, error.message);
      return;
    }

    // A gateway in front of the API: a cached copy is served without reaching it (no faults).
    const cache = path === LISTING_PATH ? injector.listing : undefined;
    let cacheKey: string | undefined;
    if (cache !== undefined && cache.cacheMs > 0) {
      const noCache =
        /no-cache|no-store|max-age=0/i.test(req.headers['cache-control'] ?? '') ||
        /no-cache/i.test(String(req.headers['pragma'] ?? ''));
      const query = [...url.searchParams].sort(([a], [b]) => a.localeCompare(b));
      cacheKey = `${req.headers.authorization ?? ''}\0${JSON.stringify(query)}`;
      const hit = listingCache.get(cacheKey);
      if (
        hit !== undefined &&
        hit.expires > Date.now() &&
        (!noCache || cache.cacheIgnoresNoCache)
      ) {
        record(200, 'cached');
        send(res, 200, hit.json, {
          age: String(Math.floor((Date.now() - (hit.expires - cache.cacheMs)) / 1000)),
        });
        return;
      }
    }

    const fault = injector.decide(path);
    if (fault.latencyMs > 0) await sleep(fault.latencyMs);
    if (fault.retryAfter !== undefined) {
      record(429, '429');
      sendError(res, 429, 'rate limit exceeded, retry later', {
        'retry-after': String(fault.retryAfter),
      });
      return;
    }
    if (fault.serverError) {
      record(503, '5xx');
      sendError(res, 503, 'service temporarily overloaded');
      return;
    }

    const token = bearerToken(req);
    const auth = token === undefined ? undefined : store.authenticate(token);
    try {
      if (token === undefined)
        throw new HttpError(401, 'authentication required: send Authorization: Bearer <token>');
      if (auth === undefined) throw new HttpError(401, 'the bearer token is not valid');
      if (route.access === 'write' && auth.caller.rank === 'REGULAR') {
        throw new HttpError(
          403,
          `a REGULAR user may only read; ${method} ${path} needs ADMIN or SUPER`,
        );
      }
      reply = route.handle({
        organization: auth.organization,
        caller: auth.caller,
        params,
        duplicateRow: injector.listing?.duplicate,
      });
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      reply = { status: error.status, body: { error: error.message } };
    }

    if (fault.drop) {
      record(reply.status, 'drop');
      res.socket?.destroy();
      return;
    }
    record(reply.status);
    const json = reply.json ?? Buffer.from(JSON.stringify(reply.body));
    if (cacheKey !== undefined && reply.status === 200 && cache !== undefined) {
      listingCache.set(cacheKey, { json, expires: Date.now() + cache.cacheMs });
    }
    send(res, reply.status, json);
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const text = await readBody(req);
    if (text.trim() === '') return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpError(400, 'request body is not valid JSON');
    }
  }

  async function handleTestSurface(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
  ): Promise<void> {
    const userPath = /^\/_mock\/users\/(\d+)$/.exec(path);
    if (path === '/_mock/state' && req.method === 'GET') {
      send(res, 200, JSON.stringify(store.snapshot()));
    } else if (path === '/_mock/requests' && req.method === 'GET') {
      send(res, 200, JSON.stringify(requests));
    } else if (path === '/_mock/requests' && req.method === 'DELETE') {
      requests.length = 0;
      send(res, 200, JSON.stringify({ success: 'request log cleared' }));
    } else if (userPath !== null && (req.method === 'POST' || req.method === 'DELETE')) {
      const emailId = Number(userPath[1]);
      const found = store.findByEmailId(emailId);
      if (found === undefined) throw new HttpError(404, `no user with email_id ${emailId}`);
      if (req.method === 'DELETE') {
        found.organization.remove(emailId);
        send(res, 200, JSON.stringify({ success: `${found.user.email} removed by hand` }));
        return;
      }
      const parsed = HandEdit.safeParse(await readJson(req));
      if (!parsed.success) throw new HttpError(400, z.prettifyError(parsed.error));
      const { smartcards, ...fields } = parsed.data;
      found.organization.update(emailId, (u) => {
        for (const [k, v] of Object.entries(fields))
          if (v !== undefined) (u as unknown as Record<string, unknown>)[k] = v;
      });
      if (smartcards !== undefined) found.organization.setSmartcards(emailId, smartcards);
      send(res, 200, JSON.stringify(found.organization.byEmailId(emailId)));
    } else if (path === '/_mock/faults' && req.method === 'PUT') {
      injector = new FaultInjector(parseFaults(await readJson(req), 'PUT /_mock/faults'));
      listingCache.clear();
      send(res, 200, JSON.stringify({ success: 'faults replaced' }));
    } else if (path === '/_mock/cache' && req.method === 'DELETE') {
      listingCache.clear();
      send(res, 200, JSON.stringify({ success: 'listing cache cleared' }));
    } else {
      sendError(res, 404, `unknown test endpoint ${req.method ?? ''} ${path}`);
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://mock');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const done = (error: unknown): void => {
      logger.error('mock API request failed', { path, error: String(error) });
      if (!res.headersSent) sendError(res, 500, 'internal error in the mock');
    };
    if (path.startsWith('/_mock/')) {
      handleTestSurface(req, res, path).catch((error: unknown) => {
        if (error instanceof HttpError) sendError(res, error.status, error.message);
        else if (error instanceof DirsyncError) sendError(res, 400, error.message);
        else done(error);
      });
      return;
    }
    const byMethod = routeTable.get(path);
    if (byMethod === undefined) {
      sendError(res, 404, `unknown endpoint ${path}`);
      return;
    }
    const route = byMethod.get(req.method ?? '');
    if (route === undefined) {
      const allow = [...byMethod.keys()].join(', ');
      sendError(res, 405, `${path} does not accept ${req.method ?? ''}; use ${allow}`, { allow });
      return;
    }
    handleApi(req, res, url, route).catch(done);
  });
  server.keepAliveTimeout = 30_000;

  const port = options.port ?? 0;
  const listenHost = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        // A ConfigError (exit 2), as the daemon's and the SCIM listener's: the port is a setting.
        new ConfigError(
          `the mock API cannot listen on ${listenHost}:${port} (${error.code ?? error.message})`,
          {
            cause: error,
            hint:
              error.code === 'EADDRINUSE'
                ? 'another program uses that port: pick another with --port'
                : 'check --host and --port',
          },
        ),
      ),
    );
    server.listen(port, listenHost, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info('mock Users API listening', {
    url,
    organizations: store.organizations.length,
    faults: injector.active,
  });

  return {
    url,
    port: address.port,
    store,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
