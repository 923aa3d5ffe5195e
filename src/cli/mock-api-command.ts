import { createLogger } from '../log.js';
import { loadFaultsFile } from '../mock/faults.js';
import { loadSeedFile } from '../mock/seed.js';
import { startMockServer } from '../mock/server.js';
import type { CommandEnv } from './commands.js';

export interface MockApiOptions {
  seed: string;
  port: number;
  host: string;
  faults?: string;
  logLevel: string;
}

/**
 * `dirsync mock-api`: serves the mock Users API. Resolves once it listens; `closed` settles when
 * SIGINT or SIGTERM has closed it.
 */
export async function mockApiCommand(
  ctx: CommandEnv,
  opts: MockApiOptions,
): Promise<{ closed: Promise<void> }> {
  const logger = createLogger({ level: opts.logLevel as 'info', stream: ctx.io.stderr });
  const seed = loadSeedFile(opts.seed);
  const faults = opts.faults === undefined ? undefined : loadFaultsFile(opts.faults);
  const server = await startMockServer({
    seed,
    faults,
    port: opts.port,
    host: opts.host,
    logger,
  });
  ctx.io.stdout.write(`mock Users API listening on ${server.url}\n`);
  const closed = new Promise<void>((resolve) => {
    const stop = (): void => {
      void server.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return { closed };
}
