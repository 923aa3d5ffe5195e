import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { RunLock } from '../../../src/state/lock.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const CHILD = resolve(import.meta.dirname, 'lock-child.ts');

/** A child process with its stdout lines collected. */
class Child {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(readonly proc: ChildProcess) {
    let partial = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    proc.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((done) => proc.once('exit', (code) => done(code)));
  }

  async waitFor(match: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline || this.proc.exitCode !== null)
        throw new Error(`no matching line; stdout ${this.lines.join('\n')}; stderr ${this.stderr}`);
      await sleep(10);
    }
  }
}

const children: Child[] = [];
function start(args: string[], command = process.execPath): Child {
  const child = new Child(spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  children.push(child);
  return child;
}
const node = (...args: string[]): string[] => ['--import', 'tsx', CHILD, ...args];
/** As pid 1 of a new pid namespace, as in a container (needs root and util-linux). */
const asPid1 = (...args: string[]): string[] => [
  '--pid',
  '--fork',
  '--mount-proc',
  '--kill-child',
  process.execPath,
  ...node(...args),
];

afterEach(() => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
});

const statePath = (): string => join(mkdtempSync(join(tmpdir(), 'dirsync-lockp-')), 'dirsync.json');

describe('the run lock across processes', () => {
  it('a run killed as pid 1 of a container is taken over by the restarted pid 1 once its heartbeat is stale', async () => {
    // Arrange: a run as pid 1 holds the lock, and is killed (SIGKILL: nothing is cleaned up).
    const path = statePath();
    const staleMs = 3_000;
    const first = start(asPid1('hold', path, String(staleMs)), 'unshare');
    await first.waitFor((l) => l === 'locked');
    const written = JSON.parse(readFileSync(`${path}.lock`, 'utf8')) as { pid: number };
    expect(written.pid).toBe(1);
    first.proc.kill('SIGKILL');
    await first.exited;
    expect(existsSync(`${path}.lock`)).toBe(true);

    // Right after the kill the dead run's heartbeat is fresh: the lock is still refused.
    expect(() => RunLock.acquire(`${path}.lock`, path, { staleMs })).toThrow(
      /another dirsync run \(pid 1 on .*\) holds the lock/,
    );

    // Act: the container restarts: pid 1 again, same host name, another pid namespace.
    const second = start(asPid1('take', path, String(staleMs), '200'), 'unshare');
    const taken = await second.waitFor((l) => l.includes('"locked":true'));

    // Assert: taken once the heartbeat was stale, by the new pid 1.
    expect(JSON.parse(taken)).toMatchObject({
      pid: 1,
      tookOver: {
        holder: { pid: 1 },
        why: expect.stringMatching(
          /its last heartbeat was \d+ s ago \(stale after 3 s\)/,
        ) as string,
      },
    });
  });

  it('a live holder keeps its lock past the stale time by its heartbeat', async () => {
    const path = statePath();
    const holder = start(node('hold', path, '2000'));
    await holder.waitFor((l) => l === 'locked');
    // Act: another run keeps trying for three stale periods.
    const other = start(node('take', path, '2000', '40'));
    const code = await other.exited;
    expect(code).toBe(3);
    expect(other.lines.every((l) => l.includes('"locked":false'))).toBe(true);
  });

  it('is released when the run dies of an uncaught error', async () => {
    const path = statePath();
    const child = start(node('crash', path, '90000'));
    await child.waitFor((l) => l === 'locked');
    expect(await child.exited).not.toBe(0);
    expect(child.stderr).toContain('boom');
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('two or more runs that see the same stale lock at once: exactly one takes it, every time', async () => {
    // Arrange: one stale lock per round; four contenders start each round at the same instant.
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-race-'));
    const rounds = 60;
    const contenders = 4;
    const old = new Date(Date.now() - 60_000);
    for (let r = 0; r < rounds; r++) {
      writeFileSync(
        join(dir, `r${r}.lock`),
        JSON.stringify({ token: `dead-${r}`, pid: 999_999, host: 'gone', heartbeatMs: 300 }),
      );
      utimesSync(join(dir, `r${r}.lock`), old, old);
    }
    const racers = Array.from({ length: contenders }, () =>
      start(node('race', dir, String(rounds), '1000')),
    );
    await sleep(1_500); // let them load

    // Act
    const winners: number[] = [];
    for (let r = 0; r < rounds; r++) {
      writeFileSync(join(dir, `go-${r}`), String(Date.now() + 20));
      await Promise.all(racers.map((c) => c.waitFor((l) => l.startsWith(`${r} `))));
      winners.push(racers.filter((c) => c.lines.includes(`${r} won`)).length);
    }
    writeFileSync(join(dir, 'done'), '');
    await Promise.all(racers.map((c) => c.exited));

    // Assert
    expect(winners).toEqual(Array.from({ length: rounds }, () => 1));
  }, 60_000);
});
