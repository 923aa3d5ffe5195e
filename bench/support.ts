import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const WORK = resolve(ROOT, 'bench/.work');

export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

export function fmt(s: Stats, unit: string, digits = 0): string {
  return `${s.median.toFixed(digits)} ${unit} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)}, n=${s.runs})`;
}

/** Starts the built CLI's mock API in its own process, so the load generator does not share its event loop. */
export async function spawnMock(
  seedFile: string,
  faultsFile?: string,
): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const args = [
    resolve(ROOT, 'bin/dirsync.js'),
    'mock-api',
    '--seed',
    seedFile,
    '--port',
    '0',
    '--log-level',
    'warn',
  ];
  if (faultsFile !== undefined) args.push('--faults', faultsFile);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1] !== undefined) ok(m[1]);
    });
    child.once('exit', (code) => fail(new Error(`mock exited with ${String(code)}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((ok) => {
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}
