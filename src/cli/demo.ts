import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ExitCode } from '../errors.js';
import { loadSeedFile } from '../mock/seed.js';
import { startMockServer } from '../mock/server.js';
import { applyCommand, planCommand, type CommandEnv } from './commands.js';

/** The project's config/ folder, from dist/cli or src/cli. */
export const CONFIG_DIR = resolve(import.meta.dirname, '../../config');

/**
 * The embedded demo: the mock API in-process with the demo organization, the demo LDIF
 * directory, then plan, apply, and a second plan that is empty. Needs no LDAP and no network.
 */
export async function demoCommand(ctx: CommandEnv): Promise<ExitCode> {
  const server = await startMockServer({
    seed: loadSeedFile(join(CONFIG_DIR, 'demo-org.yaml')),
    port: 0,
  });
  const stateDir = mkdtempSync(join(tmpdir(), 'dirsync-demo-'));
  const env = {
    ...ctx.env,
    DIRSYNC_DEMO_API: server.url,
    DIRSYNC_DEMO_STATE: join(stateDir, 'dirsync.json'),
  };
  const run = { io: ctx.io, env };
  const config = join(CONFIG_DIR, 'demo.yaml');
  const say = (s: string): void => {
    ctx.io.stdout.write(`\n=== ${s}\n\n`);
  };
  try {
    ctx.io.stdout.write(
      `dirsync demo: the mock Users API at ${server.url} (config/demo-org.yaml), the directory in config/demo-directory.ldif\n`,
    );
    say('dirsync plan --config config/demo.yaml   (dry run: nothing is changed)');
    const first = await planCommand(run, { config });
    if (first !== 0) return first;
    say('dirsync apply --config config/demo.yaml');
    const applied = await applyCommand(run, { config });
    if (applied !== 0) return applied;
    say('dirsync plan --config config/demo.yaml   (again: nothing left to do)');
    return await planCommand(run, { config });
  } finally {
    await server.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
