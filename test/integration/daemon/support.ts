import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import type { RequestRecord } from '../../../src/mock/server.js';

export const ROOT = resolve(import.meta.dirname, '../../..');
const ENTRY = resolve(import.meta.dirname, 'daemon-entry.ts');

/** The demo organization's SUPER token (config/demo-org.yaml). */
export const DEMO_TOKEN = 'demo-super-token';

export interface DaemonConfigOptions {
  apiUrl: string;
  cron: string;
  runTimeout?: string;
  concurrency?: number;
  /** Reuse a folder (and its state record) from an earlier daemon. */
  dir?: string;
  /** The config's `safety:` section (default: the demo's). */
  safety?: Record<string, unknown>;
}

/**
 * A config for the demo directory (config/demo-directory.ldif) against a mock API, with the
 * server on a free loopback port and JSON logs. Returns the config file and the state path.
 */
export function writeDaemonConfig(options: DaemonConfigOptions): {
  dir: string;
  configFile: string;
  statePath: string;
} {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'dirsync-daemon-'));
  const demo = parse(readFileSync(join(ROOT, 'config/demo.yaml'), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  const statePath = join(dir, 'state', 'dirsync.json');
  const config = {
    ...demo,
    source: { ...demo['source'], file: join(ROOT, 'config/demo-directory.ldif') },
    api: {
      ...demo['api'],
      baseUrl: options.apiUrl,
      token: DEMO_TOKEN,
      concurrency: options.concurrency ?? 8,
    },
    schedule: {
      cron: options.cron,
      timezone: 'Europe/Paris',
      runTimeout: options.runTimeout ?? '30s',
    },
    server: { host: '127.0.0.1', port: 0 },
    state: { path: statePath },
    log: { level: 'info', format: 'json' },
    ...(options.safety === undefined ? {} : { safety: options.safety }),
  };
  const configFile = join(dir, 'dirsync.yaml');
  writeFileSync(configFile, stringify(config));
  return { dir, configFile, statePath };
}

export type LogLine = Record<string, unknown> & { level: string; message: string };

/** `dirsync daemon` from the sources in a child process, its JSON log lines collected. */
export class DaemonProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(configFile: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, ['--import', 'tsx', ENTRY, configFile], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env },
    });
    let partial = '';
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) {
        try {
          this.lines.push(JSON.parse(part) as LogLine);
        } catch {
          // not a log line (an error printed by the entry)
        }
      }
    });
    this.exited = new Promise((resolveExit) =>
      this.child.once('exit', (code) => resolveExit(code)),
    );
  }

  /** Waits for a log line that matches; fails with the log so far. */
  async waitForLine(match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline || this.child.exitCode !== null)
        throw new Error(`no matching log line within ${timeoutMs} ms; stderr:\n${this.stderr}`);
      await sleep(20);
    }
  }

  /** The base URL of /healthz, /readyz and /metrics, from the start line. */
  async url(): Promise<string> {
    const started = await this.waitForLine((l) => l.message === 'daemon started');
    return started['url'] as string;
  }

  runsFinished(): LogLine[] {
    return this.lines.filter((l) => l.message === 'run finished');
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

export async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await request(url);
  return { status: res.statusCode, text: await res.body.text() };
}

/** Samples of one metric from the Prometheus text format, keyed by their label set. */
export function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

export function sample(text: string, name: string, labels = ''): number | undefined {
  return samples(text, name).get(labels);
}

export async function mockRequests(apiUrl: string): Promise<RequestRecord[]> {
  const res = await request(`${apiUrl}/_mock/requests`);
  return (await res.body.json()) as RequestRecord[];
}

export function writesOf(requests: readonly RequestRecord[]): RequestRecord[] {
  return requests.filter((r) => r.method !== 'GET');
}
