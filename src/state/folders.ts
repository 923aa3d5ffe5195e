import { dirname, join } from 'node:path';

/** The run reports (`run-*.json`), beside the state record: `apply` writes them, `status` reads them. */
export function reportsFolder(statePath: string): string {
  return join(dirname(statePath), 'reports');
}

/** The plans saved for review (`held-*.json`, `refused-*.json`), beside the state record. */
export function plansFolder(statePath: string): string {
  return join(dirname(statePath), 'plans');
}
