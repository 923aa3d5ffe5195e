import { randomUUID } from 'node:crypto';
import { createApiClient, type ApiClient } from '../api/client.js';
import { AuditLog } from '../audit/audit-log.js';
import { loadConfig, type Env, type LoadedConfig } from '../config/load.js';
import { durationMs } from '../config/schema.js';
import { insecureSettings } from '../config/warnings.js';
import { createDirectorySource } from '../directory/index.js';
import { createLogger, type Logger, type LogLevel } from '../log.js';
import type { RunDeps, RunObserver } from '../reconcile/run.js';
import { StateStore } from '../state/store.js';
import { progressLine } from './progress-line.js';

export { configPath, DEFAULT_CONFIG } from './config-path.js';

export interface RunContext {
  loaded: LoadedConfig;
  deps: RunDeps & { api: ApiClient; audit: AuditLog };
  logger: Logger;
  runId: string;
  close(): Promise<void>;
  /**
   * Gives the run up at once (a shutdown that timed out): closes the journal and releases the
   * lock without waiting for anything. Safe to call more than once, and after `close`.
   */
  abandon(): void;
}

/**
 * The secret values a run knows, scrubbed from every log line and every quoted answer: the API
 * token, the bind password, the SCIM tokens and inline webhook URLs (a urlFile's URL is read
 * and scrubbed by the notifier itself).
 */
export function knownSecrets(loaded: Pick<LoadedConfig, 'config' | 'secrets'>): string[] {
  const { config, secrets } = loaded;
  return [
    secrets.token,
    secrets.bindPassword,
    ...(secrets.scimTokens ?? []),
    ...config.notify.webhooks.map((w) => w.url),
  ].filter((v): v is string => v !== undefined);
}

/** Loads the config and builds the directory source, API client, state store and logger. */
export function openRunContext(
  path: string,
  env: Env,
  stderr: NodeJS.WritableStream,
  options: {
    lock: boolean;
    observer?: RunObserver;
    /** Stops the run (SIGTERM, the daemon's runTimeout or shutdown): every phase is cut short. */
    signal?: AbortSignal;
  },
): RunContext {
  const loaded = loadConfig(path, env);
  const { config, secrets } = loaded;
  const runId = randomUUID().slice(0, 8);
  const level = (env['LOG_LEVEL'] as LogLevel | undefined) ?? config.log.level;
  const known = knownSecrets(loaded);
  // A progress line on a terminal only: overwritten in place, cleared when the reads are done,
  // and never written over by a log line.
  const tty = 'isTTY' in stderr && stderr.isTTY === true;
  const line = tty ? progressLine(stderr) : undefined;
  const progress = line?.progress;
  const logger = createLogger({
    level,
    stream: line?.logStream ?? stderr,
    secrets: known,
    ...(config.log.format === 'auto' ? {} : { format: config.log.format }),
  }).child({ runId });
  for (const setting of insecureSettings(config))
    logger.warn(setting.message, { key: setting.key });
  const store = StateStore.open(config.state.path, config.api.baseUrl);
  const lost = store.journalLossWarning();
  if (lost !== undefined)
    logger.warn(lost.message, { journal: lost.journal, lines: lost.lines, cost: lost.cost });
  // A run whose lock is taken from it (it stalled past state.lockStaleAfter and another run took
  // over) must stop: two runs must never write at once.
  const lockLost = new AbortController();
  const signal =
    options.signal === undefined
      ? lockLost.signal
      : AbortSignal.any([options.signal, lockLost.signal]);
  const api = createApiClient({
    baseUrl: config.api.baseUrl,
    token: secrets.token,
    secrets: known,
    concurrency: config.api.concurrency,
    requestsPerSecond: config.api.requestsPerSecond,
    limits: {
      listingElementBytes: config.api.maxListingElementBytes,
      listingBytes: config.api.maxListingBytes,
      bodyBytes: config.api.maxBodyBytes,
    },
    retry: { settleMs: config.api.settleMs },
    caFile: config.api.tls.caFile,
    allowPlaintext: config.api.allowPlaintext,
    env,
    logger,
    onRetry: (event) => options.observer?.apiRetry?.(event.status),
    timeouts: { requestMs: config.api.requestTimeoutMs },
    signal,
  });
  const source = createDirectorySource(config.source, {
    bindPassword: secrets.bindPassword,
    scim: config.scim,
    logger,
    ...(progress === undefined ? {} : { onProgress: progress }),
  });
  const audit = AuditLog.forConfig(config);
  if (options.lock) {
    // Taken last, so that nothing above can fail with the lock held.
    let lock;
    try {
      lock = store.lock({
        staleMs: durationMs(config.state.lockStaleAfter),
        onLost: (reason) => {
          logger.error('run lock lost: stopping this run', { reason });
          lockLost.abort('lock-lost');
        },
      });
    } catch (error) {
      store.close();
      void api.close();
      throw error;
    }
    if (lock.tookOver !== undefined) {
      logger.warn('took over a stale run lock', {
        lock: lock.path,
        why: lock.tookOver.why,
        previousPid: lock.tookOver.holder.pid,
        previousHost: lock.tookOver.holder.host,
      });
    }
  }
  return {
    loaded,
    deps: {
      config,
      source,
      api,
      store,
      logger,
      signal,
      audit,
      ...(progress === undefined ? {} : { progress }),
      ...(options.observer === undefined ? {} : { observer: options.observer }),
    },
    logger,
    runId,
    close: async () => {
      // A run that failed mid-read leaves its progress shown: the error goes on its own line.
      line?.clear();
      try {
        store.close();
      } finally {
        store.unlock();
      }
      audit.close();
      await api.close();
    },
    abandon: () => {
      line?.clear();
      try {
        store.close();
        audit.close();
      } finally {
        store.unlock();
      }
    },
  };
}
