/**
 * Fast start (issue 15 item 5): each command loads its modules only when it runs. The built CLI
 * is spawned with a module-resolution hook that records every module it loads, and the test
 * checks the list (what is loaded, never how long it takes; the times are in `npm run bench`).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeedFile } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import { BIN, ROOT } from './support.js';

/** Registers the hooks below; `--import` this file. */
const REGISTER = `import { register } from 'node:module';
register(new URL('./hooks.mjs', import.meta.url), { data: { out: process.env.LOAD_TRACE } });
`;
/** Appends each module's resolved URL to the file named by LOAD_TRACE. */
const HOOKS = `import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(out, resolved.url + '\\n');
  return resolved;
}
`;

const dir = mkdtempSync(join(tmpdir(), 'dirsync-lazy-'));
writeFileSync(join(dir, 'register.mjs'), REGISTER);
writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
let traces = 0;

interface Traced {
  code: number | null;
  stdout: string;
  stderr: string;
  /** npm packages loaded, by name. */
  packages: Set<string>;
  /** dirsync's own modules loaded, as paths under dist/ (`reconcile/plan.js`). */
  modules: Set<string>;
}

/** Runs the built CLI under the hook; what it printed and which modules it loaded. */
async function traced(args: string[], env: Record<string, string> = {}): Promise<Traced> {
  const out = join(dir, `trace-${++traces}.txt`);
  writeFileSync(out, '');
  const register = pathToFileURL(join(dir, 'register.mjs')).href;
  const proc = spawn(process.execPath, ['--import', register, BIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/tmp',
      LOAD_TRACE: out,
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  const urls = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  const packages = new Set<string>();
  const modules = new Set<string>();
  const dist = pathToFileURL(join(ROOT, 'dist')).href + '/';
  for (const url of urls) {
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
    if (pkg !== undefined) packages.add(pkg);
    else if (url.startsWith(dist)) modules.add(url.slice(dist.length));
  }
  return { code, stdout, stderr, packages, modules };
}

const HEAVY = ['ldapts', 'undici', 'zod', 'winston', 'prom-client', 'node-cron', 'yaml'];
/** Code a plan or an apply needs only when the config asks for it (SCIM source, webhooks). */
const UNCONFIGURED = ['scim/', 'daemon/', 'mock/', 'notify/'];
const under = (modules: Set<string>, folders: string[]): string[] =>
  [...modules].filter((m) => folders.some((f) => m.startsWith(f)));

describe('fast start: commands load their modules lazily', () => {
  it.each(['--version', '--help', 'plan --help'])(
    '`dirsync %s` loads commander and nothing heavy',
    async (command) => {
      const run = await traced(command.split(' '));

      expect(run.code).toBe(0);
      expect(run.stdout).not.toBe('');
      expect(run.packages).toContain('commander'); // the hook saw the loads
      expect(HEAVY.filter((p) => run.packages.has(p))).toEqual([]);
      expect([...run.modules].sort()).toEqual([
        'cli/heap.js',
        'cli/main.js',
        'errors.js',
        'text.js',
      ]);
    },
  );

  describe('with the demo organization and directory', () => {
    let mock: MockServer;
    beforeAll(async () => {
      mock = await startMockServer({
        seed: loadSeedFile(join(ROOT, 'config/demo-org.yaml')),
        port: 0,
      });
    });
    afterAll(async () => {
      await mock?.close();
    });
    const demoEnv = (): Record<string, string> => ({
      DIRSYNC_DEMO_API: mock.url,
      DIRSYNC_DEMO_STATE: join(mkdtempSync(join(dir, 'state-')), 'dirsync.json'),
    });

    it('a plan loads the planner, the client and its source, but no SCIM, daemon, mock or notify code', async () => {
      const run = await traced(['plan', '--config', 'config/demo.yaml'], demoEnv());

      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Plan: 1 to promote');
      expect(run.modules).toContain('reconcile/plan.js');
      expect(run.modules).toContain('directory/ldif/source.js');
      expect(run.packages).toContain('undici');
      expect(under(run.modules, UNCONFIGURED)).toEqual([]);
      expect(run.modules).not.toContain('directory/ldap/source.js');
      for (const p of ['prom-client', 'node-cron', 'scim2-parse-filter', 'scim-patch'])
        expect(run.packages).not.toContain(p);
    });

    it('status, offline, loads no API client, directory source or state store', async () => {
      const run = await traced(['status', '--config', 'config/demo.yaml'], demoEnv());

      expect(run.code).toBe(0);
      expect(run.stdout).toContain('no runs recorded yet');
      expect(run.packages).not.toContain('undici');
      expect(run.modules).not.toContain('cli/context.js');
      expect(run.modules).not.toContain('state/store.js');
    });

    it('an apply with no webhooks configured loads no notify code either', async () => {
      const run = await traced(['apply', '--config', 'config/demo.yaml'], demoEnv());

      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/Applied \d+ actions in/);
      expect(run.modules).toContain('reconcile/apply.js');
      expect(under(run.modules, UNCONFIGURED)).toEqual([]);
      expect(run.packages).not.toContain('prom-client');
      expect(run.packages).not.toContain('node-cron');
    });
  });
});
