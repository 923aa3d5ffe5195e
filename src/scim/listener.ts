import { Counter, Histogram, type Registry } from 'prom-client';
import { durationMs, type ScimConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { WriteDebouncer } from './debounce.js';
import { startScimServer } from './server.js';
import { ScimService } from './service.js';
import { SqliteScimStore } from './store.js';

export interface ScimListener {
  /** The URL of the SCIM base path. */
  url: string;
  /** Stops answering, drops a pending debounced run, closes the store. */
  close(): Promise<void>;
}

/**
 * The SCIM side of `dirsync daemon`: the store, the service and its listener. Each write is
 * answered once committed, then asks for a reconcile through the debouncer.
 */
export async function startScimListener(options: {
  config: ScimConfig;
  tokens: readonly string[];
  logger: Logger;
  /** Asks the scheduler for a run (now, or after the one in flight). */
  requestRun: () => void;
  clock?: () => Date;
  /** The daemon's metrics registry: SCIM requests are counted and timed there. */
  registry?: Registry;
}): Promise<ScimListener> {
  const { config } = options;
  const registers = options.registry === undefined ? [] : [options.registry];
  const requests = new Counter({
    name: 'dirsync_scim_requests_total',
    help: 'SCIM requests answered, by method and status',
    labelNames: ['method', 'status'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'dirsync_scim_request_duration_seconds',
    help: 'Time to answer a SCIM request (a write: until it is stored)',
    labelNames: ['method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const logger = options.logger.child({ component: 'scim' });
  const store = SqliteScimStore.open(config.store.path);
  const debouncer = new WriteDebouncer({
    debounceMs: durationMs(config.debounce),
    maxDelayMs: durationMs(config.maxDelay),
    fire: () => {
      logger.info('SCIM writes pushed: reconcile requested');
      options.requestRun();
    },
  });
  try {
    const server = await startScimServer({
      host: config.host,
      port: config.port,
      basePath: config.basePath,
      tokens: options.tokens,
      maxBodyBytes: config.maxBodyBytes,
      tls:
        config.certFile !== undefined && config.keyFile !== undefined
          ? { certFile: config.certFile, keyFile: config.keyFile }
          : undefined,
      logger,
      onRequest: (method, status, seconds) => {
        requests.inc({ method, status: String(status) });
        latency.observe({ method }, seconds);
      },
      service: (baseUrl) =>
        new ScimService({
          store,
          baseUrl,
          ...(options.clock === undefined ? {} : { clock: options.clock }),
          onWrite: () => debouncer.written(),
        }),
    });
    logger.info('SCIM listener started', {
      url: server.url,
      store: config.store.path,
      driver: store.driver,
      users: store.count('User'),
      groups: store.count('Group'),
    });
    return {
      url: server.url,
      close: async () => {
        debouncer.stop();
        await server.close();
        store.close();
      },
    };
  } catch (error) {
    debouncer.stop();
    store.close();
    throw error;
  }
}
