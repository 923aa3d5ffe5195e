import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Config } from '../../../src/config/schema.js';
import { readRepoFile } from './support.js';

/**
 * No Docker engine on these machines: the Dockerfile is parsed and its facts checked here, and
 * test/e2e/packaging.test.ts runs the final stage's commands in a temp directory.
 */

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line.trimEnd().endsWith('\\')) {
      current += line.trimEnd().slice(0, -1) + ' ';
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  return logical.map((l) => {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(l) ?? [];
    return { keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ').trim() };
  });
}

function stages(instructions: Instruction[]): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const result: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'ARG' && result.length === 0) {
      const [name = '', value = ''] = ins.args.split('=');
      args.set(name, value);
    } else if (ins.keyword === 'FROM') {
      const [image = '', as, name] = ins.args.split(' ');
      const from = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => {
        return args.get(a ?? b ?? '') ?? '';
      });
      result.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      result.at(-1)?.instructions.push(ins);
    }
  }
  return { args, stages: result };
}

const text = readRepoFile('Dockerfile');
const { stages: all } = stages(parseDockerfile(text));
const first = all[0]!;
const final = all.at(-1)!;
const of = (stage: Stage, keyword: string): string[] =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const runs = (stage: Stage): string => of(stage, 'RUN').join('\n');
const execForm = (args: string): unknown => JSON.parse(args);

describe('Dockerfile', () => {
  it('is multi-stage on one current LTS Node image (even major, slim or alpine)', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const stage of all) {
      const match = /^node:(\d+)-(bookworm-slim|trixie-slim|alpine[\d.]*)$/.exec(stage.from);
      expect(match, `FROM ${stage.from}`).not.toBeNull();
      const major = Number(match![1]);
      expect(major % 2, 'LTS lines are even').toBe(0);
      expect(major).toBeGreaterThanOrEqual(22);
    }
    expect(new Set(all.map((s) => s.from)).size).toBe(1);
  });

  it('installs everything and builds in the first stage', () => {
    expect(runs(first)).toMatch(/npm ci\b/);
    expect(runs(first)).toMatch(/npm run build/);
  });

  it('installs production dependencies only in the final stage, without lifecycle scripts', () => {
    const install = of(final, 'RUN').find((r) => /npm ci\b/.test(r));

    expect(install).toBeDefined();
    expect(install).toMatch(/--omit=dev/);
    // `prepare` builds with tsc, a dev dependency that is not there.
    expect(install).toMatch(/--ignore-scripts/);
    expect(runs(final)).not.toMatch(/npm run build|tsc/);
  });

  it('copies the compiled dist/ from the build stage, and bin/ and config/', () => {
    const copies = of(final, 'COPY');

    expect(copies).toContain(`--from=${first.name} /src/dist ./dist`);
    expect(copies).toEqual(expect.arrayContaining(['bin ./bin', 'config ./config']));
    expect(of(final, 'WORKDIR')).toEqual(['/app']);
  });

  it('needs no install script of a production dependency (they are skipped)', () => {
    const lock = JSON.parse(readRepoFile('package-lock.json')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; hasInstallScript?: boolean }>;
    };

    // better-sqlite3 (optional) is the SCIM store's SQLite on Node 20 only: the image's Node has
    // node:sqlite built in, so the addon it would build is not needed there.
    const withScripts = Object.entries(lock.packages)
      .filter(([name, p]) => name !== '' && p.dev !== true && p.hasInstallScript === true)
      .filter(([name, p]) => !(name === 'node_modules/better-sqlite3' && p.optional === true))
      .map(([name]) => name);

    expect(withScripts).toEqual([]);
  });

  it('runs as a non-root user', () => {
    const user = of(final, 'USER').at(-1);

    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user!.split(':')[0]);
  });

  it('runs `dirsync daemon` by default, with dirsync on the PATH', () => {
    const pkg = JSON.parse(readRepoFile('package.json')) as { bin: Record<string, string> };

    expect(execForm(of(final, 'ENTRYPOINT').at(-1)!)).toEqual(['dirsync']);
    expect(execForm(of(final, 'CMD').at(-1)!)).toEqual(['daemon']);
    expect(runs(final)).toContain(`ln -s /app/${pkg.bin['dirsync']} /usr/local/bin/dirsync`);
  });

  it('reads its config from /etc/dirsync/config.yaml and keeps state in a volume', () => {
    expect(of(final, 'ENV').join(' ')).toMatch(/\bDIRSYNC_CONFIG=\/etc\/dirsync\/config\.yaml\b/);
    expect(of(final, 'VOLUME').join(' ')).toContain('/var/lib/dirsync');
    expect(runs(final)).toMatch(/chown 1000:1000 \/var\/lib\/dirsync/);
  });

  it('exposes and health-checks the default server.port', () => {
    const port = Config.shape.server.parse(undefined).port;
    const healthcheck = of(final, 'HEALTHCHECK').at(-1);

    expect(of(final, 'EXPOSE')).toEqual([String(port)]);
    expect(healthcheck).toContain(`http://127.0.0.1:${port}/healthz`);
  });

  describe('HEALTHCHECK command', () => {
    let server: Server | undefined;
    afterEach(() => {
      server?.close();
      server = undefined;
    });

    const command = (): string[] => {
      const args = of(final, 'HEALTHCHECK').at(-1)!;
      const cmd = /\bCMD (\[.*\])$/.exec(args);
      expect(cmd, 'HEALTHCHECK ... CMD ["node", "-e", "..."] (exec form)').not.toBeNull();
      return execForm(cmd![1]!) as string[];
    };

    /** Runs the healthcheck command against `port` instead of 9464; resolves to its exit code. */
    async function check(port: number): Promise<number | null> {
      const [program, ...rest] = command().map((a) => a.replace(':9464/', `:${port}/`));
      expect(program).toBe('node');
      const child = spawn(process.execPath, rest, { stdio: 'ignore' });
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    }

    async function serve(status: number): Promise<number> {
      server = createServer((req, res) => {
        res.statusCode = req.url === '/healthz' ? status : 404;
        res.end();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return (server.address() as AddressInfo).port;
    }

    it('exits 0 when /healthz answers 200', async () => {
      expect(await check(await serve(200))).toBe(0);
    });

    it('exits 1 when /healthz answers 503', async () => {
      expect(await check(await serve(503))).toBe(1);
    });

    it('exits 1 when nothing listens', async () => {
      const port = await serve(200);
      server!.close();
      await once(server!, 'close');

      expect(await check(port)).toBe(1);
    });
  });
});

describe('.dockerignore', () => {
  /** Docker's rule: the last pattern that matches decides; `!` re-includes. */
  function excluded(path: string): boolean {
    const patterns = readRepoFile('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    let result = false;
    for (const pattern of patterns) {
      const negated = pattern.startsWith('!');
      const glob = (negated ? pattern.slice(1) : pattern).replace(/\/$/, '');
      const source = glob
        .split('/')
        .map((part) =>
          part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      // A pattern that matches a folder excludes (or includes) everything under it.
      if (new RegExp(`^${source}(?:/.*)?$`).test(path)) result = !negated;
    }
    return result;
  }

  it('lets in every file the Dockerfile copies from the build context', () => {
    const sources = all
      .flatMap((s) => of(s, 'COPY'))
      .filter((c) => !c.startsWith('--from'))
      .flatMap((c) => c.split(' ').slice(0, -1));

    expect(sources.length).toBeGreaterThan(0);
    expect(sources.filter((s) => excluded(s.replace(/^\.\//, '')))).toEqual([]);
    expect(excluded('src/cli/main.ts')).toBe(false);
  });

  it('keeps local state, secrets, dependencies and builds out of the context', () => {
    for (const path of [
      'node_modules/zod/package.json',
      'dist/cli/main.js',
      '.git/HEAD',
      'state/dirsync.json',
      'deploy/secrets/api-token',
      'dirsync.yaml',
      'src/cli/main.test.ts',
    ]) {
      expect(excluded(path), path).toBe(true);
    }
  });
});
