import type { Env } from '../config/load.js';

// Apart from context.ts, so that the offline commands (status, history, config validate and
// init) find the config without loading the run's API client, directory source and state store.

export const DEFAULT_CONFIG = './dirsync.yaml';

/** The config file: --config, else $DIRSYNC_CONFIG, else ./dirsync.yaml. */
export function configPath(option: string | undefined, env: Env): string {
  return option ?? env['DIRSYNC_CONFIG'] ?? DEFAULT_CONFIG;
}
