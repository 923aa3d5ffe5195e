import { loadConfig } from '../config/load.js';
import { durationMs } from '../config/schema.js';
import { ConfigError, type ExitCode } from '../errors.js';
import { createLogger, type LogLevel } from '../log.js';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, startDaemon } from '../daemon/daemon.js';
import { Notifier } from '../notify/notifier.js';
import type { CommandEnv } from './commands.js';
import { configPath, knownSecrets, openRunContext } from './context.js';

type StopSignal = 'SIGTERM' | 'SIGINT';

function shutdownTimeout(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_SHUTDOWN_TIMEOUT_MS;
  try {
    return durationMs(value);
  } catch {
    throw new ConfigError(`DIRSYNC_SHUTDOWN_TIMEOUT ${JSON.stringify(value)} is not a duration`, {
      hint: 'set it to a duration such as 25s or 500ms, or unset it (25s)',
    });
  }
}

/**
 * `dirsync daemon`: runs on `schedule.cron` (and once at start), serves /healthz, /readyz and
 * /metrics on `server.host:server.port`, and on SIGTERM or SIGINT stops scheduling, lets the
 * in-flight actions finish and journal, and exits 0. A second signal exits at once (1).
 * `DIRSYNC_SHUTDOWN_TIMEOUT` (default 25s) bounds the wait.
 */
export async function daemonCommand(ctx: CommandEnv, opts: { config?: string }): Promise<ExitCode> {
  const path = configPath(opts.config, ctx.env);
  const loaded = loadConfig(path, ctx.env);
  const { config, secrets } = loaded;
  const timeoutMs = shutdownTimeout(ctx.env['DIRSYNC_SHUTDOWN_TIMEOUT']);
  const logger = createLogger({
    level: (ctx.env['LOG_LEVEL'] as LogLevel | undefined) ?? config.log.level,
    stream: ctx.io.stderr,
    secrets: knownSecrets(loaded),
    ...(config.log.format === 'auto' ? {} : { format: config.log.format }),
  }).child({ component: 'daemon' });
  const notifier = Notifier.forConfig(config, { logger, env: ctx.env });

  let signalled: (signal: StopSignal) => void = () => {};
  const stopRequested = new Promise<StopSignal>((resolve) => {
    signalled = resolve;
  });
  let signals = 0;
  const onSignal = (signal: StopSignal): void => {
    signals++;
    if (signals === 1) {
      signalled(signal);
      return;
    }
    logger.warn('second signal: exiting now; unsent actions wait for the next start', { signal });
    process.exit(1);
  };
  const onTerm = (): void => onSignal('SIGTERM');
  const onInt = (): void => onSignal('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);

  try {
    const daemon = await startDaemon({
      schedule: config.schedule,
      server: config.server,
      openRun: (observer, signal) =>
        openRunContext(path, ctx.env, ctx.io.stderr, { lock: true, observer, signal }),
      logger,
      notifier,
      shutdownTimeoutMs: timeoutMs,
      scim:
        config.source.type === 'scim' && config.scim !== undefined
          ? { config: config.scim, tokens: secrets.scimTokens ?? [] }
          : undefined,
    });
    const signal = await stopRequested;
    const result = await daemon.stop(signal);
    if (result === 'timed-out') {
      // The stuck run may hold sockets or timers that keep the event loop alive.
      setTimeout(() => process.exit(1), 1_000).unref();
      return 1;
    }
    return 0;
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
}
