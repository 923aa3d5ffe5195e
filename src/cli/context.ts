import { randomUUID } from 'node:crypto';
import { createApiClient, type ApiClient } from '../api/client.js';
import { loadConfig, type Env, type LoadedConfig } from '../config/load.js';
import { insecureSettings } from '../config/warnings.js';
import { createDirectorySource } from '../directory/index.js';
import { createLogger, type Logger, type LogLevel } from '../log.js';
import type { RunDeps, RunObserver } from '../reconcile/run.js';
import { StateStore } from '../state/store.js';

export const DEFAULT_CONFIG = './dirsync.yaml';

export function configPath(option: string | undefined, env: Env): string {
  return option ?? env['DIRSYNC_CONFIG'] ?? DEFAULT_CONFIG;
}

export interface RunContext {
  loaded: LoadedConfig;
  deps: RunDeps & { api: ApiClient };
  logger: Logger;
  runId: string;
  close(): Promise<void>;
}

/** Loads the config and builds the directory source, API client, state store and logger. */
export function openRunContext(
  path: string,
  env: Env,
  stderr: NodeJS.WritableStream,
  options: { lock: boolean; observer?: RunObserver },
): RunContext {
  const loaded = loadConfig(path, env);
  const { config, secrets } = loaded;
  const runId = randomUUID().slice(0, 8);
  const level = (env['LOG_LEVEL'] as LogLevel | undefined) ?? config.log.level;
  const logger = createLogger({
    level,
    stream: stderr,
    secrets: [secrets.token, secrets.bindPassword],
    ...(config.log.format === 'auto' ? {} : { format: config.log.format }),
  }).child({ runId });
  for (const setting of insecureSettings(config))
    logger.warn(setting.message, { key: setting.key });
  const store = StateStore.open(config.state.path, config.api.baseUrl);
  if (options.lock) store.lock();
  const api = createApiClient({
    baseUrl: config.api.baseUrl,
    token: secrets.token,
    concurrency: config.api.concurrency,
    requestsPerSecond: config.api.requestsPerSecond,
    caFile: config.api.tls.caFile,
    allowPlaintext: config.api.allowPlaintext,
    env,
    logger,
    onRetry: (event) => options.observer?.apiRetry?.(event.status),
  });
  // A progress line on a terminal only: overwritten in place, cleared when the reads are done.
  const tty = 'isTTY' in stderr && stderr.isTTY === true;
  const progress = tty
    ? (message: string): void => {
        stderr.write(`\r\x1b[K${message === '' ? '' : `dirsync: ${message}...`}`);
      }
    : undefined;
  const source = createDirectorySource(config.source, {
    bindPassword: secrets.bindPassword,
    logger,
    ...(progress === undefined ? {} : { onProgress: progress }),
  });
  return {
    loaded,
    deps: {
      config,
      source,
      api,
      store,
      logger,
      ...(progress === undefined ? {} : { progress }),
      ...(options.observer === undefined ? {} : { observer: options.observer }),
    },
    logger,
    runId,
    close: async () => {
      store.close();
      if (options.lock) store.unlock();
      await api.close();
    },
  };
}
