import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './support.js';

/**
 * The Dockerfile's final stage without Docker (no engine on these machines): the same files in a
 * fresh folder, `npm ci --omit=dev --ignore-scripts`, then the CLI run from there. Proves the
 * image needs no dev dependency and no build step at run time.
 */

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The settings npm needs to reach the registry as this machine's npm does: its config files, cache,
 * registry, CA and proxies (npm itself passes several as `npm_config_*` to `npm test`). Not the
 * rest of `npm_config_*`: `npm_config_local_prefix` would point `npm ci` at the repository.
 * Without these, npm under a Node other than the system's (its own prefix, so no global npmrc and
 * its `cafile`) waited ~70 s per fetch before falling back to a stale cache.
 */
const NPM_SETTINGS =
  /^(npm_config_(userconfig|globalconfig|cache|registry|cafile|ca|strict_ssl|proxy|https_proxy|noproxy|offline|prefer_offline)|NODE_EXTRA_CA_CERTS|(HTTPS?|NO)_PROXY)$/i;

function npmEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && NPM_SETTINGS.test(entry[0]),
    ),
  );
}

async function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Result> {
  const child = spawn(command, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...npmEnvironment(process.env),
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? tmpdir(),
      // As in the image.
      NODE_ENV: 'production',
      DIRSYNC_CONFIG: '/etc/dirsync/config.yaml',
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

const explain = (r: Result): string =>
  `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

describe('the container image, built without Docker', () => {
  let app: string;
  let install: Result;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
      const build = await run('npm', ['run', 'build'], ROOT);
      expect(build.code, explain(build)).toBe(0);
    }
    app = join(mkdtempSync(join(tmpdir(), 'dirsync-image-')), 'app');
    mkdirSync(app);
    // What the final stage copies: the package files, then dist/ (from the build stage), bin/, config/.
    for (const path of ['package.json', 'package-lock.json', 'bin', 'dist', 'config']) {
      cpSync(join(ROOT, path), join(app, path), { recursive: true });
    }
    // --prefer-offline: every package is in npm's cache since the repository's own `npm ci`, so
    // the install asks the registry nothing (not even whether a cached manifest is stale) and
    // takes seconds whatever the network; one missing from the cache is still fetched.
    install = await run(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
      app,
    );
  }, 120_000);

  afterAll(() => {
    if (app !== undefined) rmSync(dirname(app), { recursive: true, force: true });
  });

  it("passes npm the machine's registry settings, but not the repository as its prefix", () => {
    const env = npmEnvironment({
      npm_config_cache: '/root/.npm',
      npm_config_userconfig: '/root/.npmrc',
      npm_config_local_prefix: ROOT,
      npm_config_prefix: '/usr',
      NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
      HTTPS_PROXY: 'http://proxy.invalid:3128',
      DIRSYNC_TOKEN: 'secret',
    });

    expect(env).toEqual({
      npm_config_cache: '/root/.npm',
      npm_config_userconfig: '/root/.npmrc',
      NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
      HTTPS_PROXY: 'http://proxy.invalid:3128',
    });
  });

  it('installs production dependencies only', () => {
    expect(install.code, explain(install)).toBe(0);
    expect(existsSync(join(app, 'node_modules/zod/package.json'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/vitest'))).toBe(false);
  });

  it('prints its version', async () => {
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { version: string };

    const result = await run(process.execPath, ['bin/dirsync.js', '--version'], app);

    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout.trim()).toBe(pkg.version);
  });

  it('runs as `dirsync` through the /usr/local/bin symlink (the ENTRYPOINT)', async () => {
    const binDir = join(dirname(app), 'usr-local-bin');
    mkdirSync(binDir);
    symlinkSync(join(app, 'bin/dirsync.js'), join(binDir, 'dirsync'));

    // The shebang finds node on the PATH, as in the image.
    const result = await run('dirsync', ['--version'], '/', {
      PATH: [binDir, dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter),
    });

    expect(result.code, explain(result)).toBe(0);
  });

  it('prints the committed config/schema.json', async () => {
    const result = await run(process.execPath, ['bin/dirsync.js', 'config', 'schema'], app);

    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toBe(readFileSync(join(ROOT, 'config/schema.json'), 'utf8'));
  });

  it('runs the embedded demo offline and exits 0', async () => {
    const result = await run(process.execPath, ['bin/dirsync.js', 'demo'], app);

    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toContain('dirsync demo');
  }, 120_000);
});
