import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { badRequest, ScimError } from './errors.js';
import type { ScimRequest, ScimResponse, ScimService } from './service.js';

export interface ScimServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** e.g. `/scim/v2`. */
  basePath: string;
  /** The accepted bearer tokens (several, so one can be rotated). */
  tokens: readonly string[];
  maxBodyBytes: number;
  tls?: { certFile: string; keyFile: string } | undefined;
  /** Builds the service once the listener knows its own URL (for meta.location). */
  service: (baseUrl: string) => ScimService;
  logger: Logger;
  /** Told of each answered request (metrics). */
  onRequest?: (method: string, status: number, seconds: number) => void;
}

export interface ScimServer {
  /** The URL of the base path, e.g. `http://127.0.0.1:9465/scim/v2`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const SCIM_TYPE = 'application/scim+json; charset=utf-8';

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (body === undefined) {
    res.writeHead(status, { ...headers, 'cache-control': 'no-store' });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': SCIM_TYPE,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Compares the presented token with every accepted one in constant time: digests of equal length,
 * every token compared even after a match.
 */
export function tokenMatcher(tokens: readonly string[]): (presented: string) => boolean {
  const accepted = tokens.map(digest);
  return (presented) => {
    const d = digest(presented);
    let ok = false;
    for (const a of accepted) ok = timingSafeEqual(a, d) || ok;
    return ok;
  };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit)
    throw new ScimError(413, `the request body is larger than ${limit} bytes`, 'tooMany');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit)
      throw new ScimError(413, `the request body is larger than ${limit} bytes`, 'tooMany');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function parseJson(raw: Buffer, contentType: string | undefined): unknown {
  if (
    contentType !== undefined &&
    contentType !== '' &&
    !/^application\/(scim\+)?json\b/i.test(contentType)
  )
    throw new ScimError(
      415,
      `the body must be application/scim+json (or application/json), not ${contentType}`,
    );
  let text = raw.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw badRequest('the request needs a JSON body', 'invalidSyntax');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badRequest(`the body is not valid JSON: ${(error as Error).message}`, 'invalidSyntax');
  }
}

/** The base URL as the client reached it, behind an ingress too (X-Forwarded-Proto/Host). */
function requestBase(req: IncomingMessage, tls: boolean, basePath: string): string | undefined {
  const first = (v: string | string[] | undefined): string | undefined =>
    (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  const host = first(req.headers['x-forwarded-host']) ?? req.headers.host;
  if (host === undefined || !/^[A-Za-z0-9.:[\]-]+$/.test(host)) return undefined;
  const proto = first(req.headers['x-forwarded-proto']) ?? (tls ? 'https' : 'http');
  return `${proto === 'https' ? 'https' : 'http'}://${host}${basePath}`;
}

/**
 * The SCIM listener of `dirsync daemon`: its own port (it faces the identity provider, the
 * metrics port faces the monitoring), bearer tokens, optional TLS, SCIM JSON both ways.
 */
export async function startScimServer(options: ScimServerOptions): Promise<ScimServer> {
  const { logger } = options;
  const basePath = `/${options.basePath.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
  const authorized = tokenMatcher(options.tokens);
  // Built once the listener knows its own URL; until then requests get a 503.
  const ready: { service?: ScimService } = {};

  // Group commit: the requests that arrive while one event-loop turn runs are handled in one
  // transaction, so concurrent writes share one sync to disk; each is answered after the commit.
  let queue: { request: ScimRequest; done: (answer: ScimResponse | Error) => void }[] = [];
  const flush = (): void => {
    const batch = queue;
    queue = [];
    let answers: (ScimResponse | Error)[];
    try {
      answers = ready.service!.handleAll(batch.map((b) => b.request));
    } catch (error) {
      answers = batch.map(() => (error instanceof Error ? error : new Error(String(error))));
    }
    batch.forEach((b, i) => b.done(answers[i]!));
  };
  const batched = (request: ScimRequest): Promise<ScimResponse> =>
    new Promise((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ request, done: (a) => (a instanceof Error ? reject(a) : resolve(a)) });
    });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const started = performance.now();
    let status = 500;
    try {
      const path = url.pathname;
      if (path !== basePath && !path.startsWith(`${basePath}/`))
        throw new ScimError(404, `no such endpoint; the SCIM base path is ${basePath || '/'}`);
      const auth = req.headers.authorization ?? '';
      const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
      if (match === null || !authorized(match[1]!.trim())) {
        status = 401;
        send(
          res,
          401,
          new ScimError(
            401,
            'a valid bearer token is required (Authorization: Bearer <token>)',
          ).toJSON(),
          { 'www-authenticate': 'Bearer realm="dirsync"' },
        );
        // The body of an unauthenticated request is not read.
        req.resume();
        return;
      }
      let body: unknown;
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
        const raw = await readBody(req, options.maxBodyBytes);
        body = parseJson(raw, req.headers['content-type']);
      } else {
        req.resume();
      }
      if (ready.service === undefined) throw new ScimError(503, 'the SCIM service is starting');
      const answer = await batched({
        method,
        path: path.slice(basePath.length),
        query: url.searchParams,
        body,
        ifMatch: req.headers['if-match'],
        baseUrl: requestBase(req, tls !== undefined, basePath),
      });
      status = answer.status;
      send(res, answer.status, answer.body, answer.headers);
    } catch (error) {
      if (!(error instanceof ScimError)) throw error;
      status = error.status;
      send(res, error.status, error.toJSON(), error.status === 413 ? { connection: 'close' } : {});
      if (error.status === 413) req.resume();
    } finally {
      options.onRequest?.(method, status, (performance.now() - started) / 1000);
      logger.debug('SCIM request', {
        method,
        path: url.pathname,
        status,
        ms: Math.round(performance.now() - started),
      });
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      logger.error('SCIM request failed', {
        method: req.method,
        path: new URL(req.url ?? '/', 'http://localhost').pathname,
        error: describeError(error),
      });
      if (!res.headersSent) send(res, 500, new ScimError(500, 'internal error').toJSON());
      else res.destroy();
    });
  };
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (options.tls !== undefined) {
    try {
      tls = { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) };
    } catch (error) {
      throw new ConfigError(
        `scim.certFile or scim.keyFile cannot be read (${describeError(error)})`,
        {
          cause: error,
          hint: 'point scim.certFile and scim.keyFile at a readable PEM certificate and key',
        },
      );
    }
  }
  const server = tls === undefined ? createHttpServer(listener) : createHttpsServer(tls, listener);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new ConfigError(
          `the SCIM listener cannot listen on ${options.host}:${options.port} (${error.code ?? error.message})`,
          {
            cause: error,
            hint:
              error.code === 'EADDRINUSE'
                ? 'another process uses scim.port: stop it or choose another port'
                : 'check scim.host and scim.port in the config',
          },
        ),
      );
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => {
    logger.error('SCIM listener error', { error: describeError(error) });
  });
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  const url = `${tls === undefined ? 'http' : 'https'}://${shown}:${port}${basePath}`;
  ready.service = options.service(url);
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
