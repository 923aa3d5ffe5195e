import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Readiness } from './readiness.js';

export interface ServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  registry: Registry;
  readiness: () => Readiness;
  logger: Logger;
}

export interface HealthServer {
  /** e.g. `http://127.0.0.1:9464` */
  url: string;
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The daemon's HTTP endpoints: `/healthz` (the process answers), `/readyz` (a run succeeded
 * recently; 503 with the reason otherwise) and `/metrics` (Prometheus text format).
 */
export async function startHealthServer(options: ServerOptions): Promise<HealthServer> {
  const { registry, logger } = options;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, JSON.stringify({ error: 'only GET and HEAD are served' }), JSON_TYPE);
      return;
    }
    switch (path) {
      case '/healthz':
        send(res, 200, JSON.stringify({ status: 'ok' }), JSON_TYPE);
        return;
      case '/readyz': {
        const readiness = options.readiness();
        send(res, readiness.ready ? 200 : 503, JSON.stringify(readiness), JSON_TYPE);
        return;
      }
      case '/metrics':
        send(res, 200, await registry.metrics(), registry.contentType);
        return;
      default:
        send(
          res,
          404,
          JSON.stringify({ error: `no such endpoint; try /healthz, /readyz or /metrics` }),
          JSON_TYPE,
        );
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error('health endpoint failed', { url: req.url, error: describeError(error) });
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'internal error' }), JSON_TYPE);
      else res.destroy();
    });
  });
  // A probe that hangs must not keep a shutdown waiting.
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new ConfigError(
          `cannot listen on ${options.host}:${options.port} (${error.code ?? error.message})`,
          {
            cause: error,
            hint:
              error.code === 'EADDRINUSE'
                ? 'another process uses server.port: stop it or choose another port'
                : 'check server.host and server.port in the config',
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
    logger.error('health server error', { error: describeError(error) });
  });

  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
