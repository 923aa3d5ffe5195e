import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadSeedFile } from '../../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../../src/mock/server.js';
import { ROOT, writeDaemonConfig } from '../daemon/support.js';

/**
 * The demo organization, with rita holding mia's directory card number (555001): mia's
 * set_smartcards is refused (400, a card another user holds), so a run has a failed action.
 */
export async function startDemoMock(options: { cardClash?: boolean } = {}): Promise<MockServer> {
  const seed = loadSeedFile(join(ROOT, 'config/demo-org.yaml'));
  if (options.cardClash === true) {
    const rita = seed.organizations[0]!.users.find((u) => u.email.startsWith('rita.'))!;
    rita.smartcards = [{ number: '555001', label: 'badge' }];
  }
  return startMockServer({ seed, port: 0 });
}

/**
 * The demo config (LDIF directory) against `apiUrl` in a fresh folder, patched by `patch`.
 * Returns the config file, the folder and the state path.
 */
export function demoConfig(
  apiUrl: string,
  patch: (config: Record<string, Record<string, unknown>>) => void = () => {},
): { dir: string; configFile: string; statePath: string } {
  const written = writeDaemonConfig({ apiUrl, cron: '0 0 1 1 *' });
  const config = parse(readFileSync(written.configFile, 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  patch(config);
  writeFileSync(written.configFile, stringify(config));
  return written;
}
