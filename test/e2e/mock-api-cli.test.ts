import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../bin/dirsync.js');
const ROOT = resolve(import.meta.dirname, '../..');
let child: ChildProcess | undefined;

afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

/** Spawns the built CLI and waits for the listening line on stdout. */
async function startCli(args: string[]): Promise<string> {
  child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolvePromise, reject) => {
    child!.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1] !== undefined) resolvePromise(match[1]);
    });
    child!.once('exit', (code) =>
      reject(new Error(`dirsync exited with ${String(code)} before listening`)),
    );
  });
}

async function runCli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('dirsync mock-api', () => {
  it('serves the demo organization to the README example token, and stops cleanly on SIGTERM', async () => {
    const url = await startCli(['mock-api', '--seed', 'config/demo-org.yaml', '--port', '0']);
    const res = await fetch(`${url}/multipleusers?email=true`, {
      headers: { authorization: 'Bearer demo-super-token' },
    });
    expect(res.status).toBe(200);
    const users = (await res.json()) as { email: string; name: string }[];
    expect(users.map((u) => u.email)).toContain('joe.dev@corp.example.com');
    expect(users.find((u) => u.email === 'joe.dev@corp.example.com')?.name).toBe(
      'Joe Developer (joe.dev@corp.example.com)',
    );
    const exited = once(child!, 'exit');
    child!.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  });

  it('applies a faults file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-e2e-'));
    const faults = join(dir, 'faults.yaml');
    writeFileSync(faults, '"/multipleusers": { rate429: 1, retryAfterSeconds: 3 }\n');
    const url = await startCli([
      'mock-api',
      '--seed',
      'config/demo-org.yaml',
      '--port',
      '0',
      '--faults',
      faults,
    ]);
    const res = await fetch(`${url}/multipleusers`, {
      headers: { authorization: 'Bearer demo-super-token' },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
  });

  it('stops at start with exit 2, naming the file and the key of a malformed seed, without a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-e2e-'));
    const seed = join(dir, 'seed.yaml');
    writeFileSync(
      seed,
      'organizations:\n  - name: corp\n    users:\n      - { email: a@x.example, rank: KING }\n',
    );
    const { code, stderr } = await runCli(['mock-api', '--seed', seed, '--port', '0']);
    expect(code).toBe(2);
    expect(stderr).toContain(seed);
    expect(stderr).toContain('organizations[0].users[0].rank');
    expect(stderr).toContain('To fix:');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('stops at start with exit 2 on a malformed faults file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-e2e-'));
    const faults = join(dir, 'faults.yaml');
    writeFileSync(faults, '"/users": { rate429: 0.5 }\n');
    const { code, stderr } = await runCli([
      'mock-api',
      '--seed',
      'config/demo-org.yaml',
      '--faults',
      faults,
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain(faults);
    expect(stderr).toContain('/users');
  });

  it('exits 2 on bad usage', async () => {
    const { code, stderr } = await runCli([
      'mock-api',
      '--seed',
      'config/demo-org.yaml',
      '--port',
      'eighty',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('port');
  });
});
