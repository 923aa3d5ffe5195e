import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Server processes the test harness started, with their temp dirs: a worker that ends without
 * calling stop() (a crashed test, a timeout) still kills them and removes the dirs on exit.
 */
const live = new Map<ChildProcess, string>();
const exitHooks: (() => void)[] = [];
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', () => {
    for (const [proc, dir] of live) {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
    for (const hook of exitHooks) hook();
  });
}

export function trackChild(child: ChildProcess, dir: string): void {
  install();
  live.set(child, dir);
}

export function untrackChild(child: ChildProcess): void {
  live.delete(child);
}

/** Runs `hook` at process exit, after the tracked children are gone. */
export function atExit(hook: () => void): void {
  install();
  if (!exitHooks.includes(hook)) exitHooks.push(hook);
}
