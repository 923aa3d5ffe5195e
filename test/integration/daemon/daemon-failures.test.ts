import { existsSync, rmSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRunContext } from '../../../src/cli/context.js';
import { startDaemon, type Daemon } from '../../../src/daemon/daemon.js';
import type { Trigger } from '../../../src/daemon/scheduler.js';
import type { DirectorySnapshot, DirectorySource } from '../../../src/directory/model.js';
import { DirectoryError } from '../../../src/errors.js';
import { createSilentLogger } from '../../../src/log.js';
import { loadSeedFile } from '../../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../../src/mock/server.js';
import { get, ROOT, sample, writeDaemonConfig, writesOf } from './support.js';

const emptySnapshot = (): DirectorySnapshot => ({
  users: [],
  groups: new Map(),
  warnings: [],
  readAt: new Date().toISOString(),
  stats: {
    source: 'test',
    flavor: 'openldap',
    usersPerBase: {},
    groupsPerBase: {},
    referencesSkipped: 0,
    usersWithoutEmail: 0,
    durationMs: 1,
  },
});

/** Never due by itself: these tests need only the run at start. */
const idle: Trigger = { start: () => {}, stop: () => {}, intervalMs: () => 60_000 };

let mock: MockServer | undefined;
let daemon: Daemon | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await daemon?.stop('test over');
  daemon = undefined;
  await mock?.close();
  mock = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A daemon in-process whose runs read `source` instead of the demo LDIF. */
async function daemonWith(
  source: DirectorySource | undefined,
  shutdownTimeoutMs = 5_000,
  safety?: Record<string, unknown>,
  options: { closeHangs?: boolean; onStatePath?: (path: string) => void } = {},
): Promise<Daemon> {
  mock = await startMockServer({
    seed: loadSeedFile(join(ROOT, 'config/demo-org.yaml')),
    port: 0,
  });
  const { dir, configFile, statePath } = writeDaemonConfig({
    apiUrl: mock.url,
    cron: '0 * * * *',
    ...(safety === undefined ? {} : { safety }),
  });
  dirs.push(dir);
  options.onStatePath?.(statePath);
  const logs = new PassThrough();
  logs.resume();
  const run = openRunContext(configFile, {}, logs, { lock: false });
  await run.close();
  daemon = await startDaemon({
    schedule: run.loaded.config.schedule,
    server: run.loaded.config.server,
    openRun: (observer, signal) => {
      const ctx = openRunContext(configFile, {}, logs, { lock: true, observer, signal });
      return {
        ...ctx,
        deps: source === undefined ? ctx.deps : { ...ctx.deps, source },
        // A close that never ends: undici waiting on a socket that hangs, say.
        ...(options.closeHangs === true ? { close: () => new Promise<void>(() => {}) } : {}),
      };
    },
    logger: createSilentLogger(),
    trigger: idle,
    shutdownTimeoutMs,
  });
  return daemon;
}

describe('dirsync daemon: runs that fail', () => {
  it('counts a failed directory read by kind and answers /readyz 503 with the reason', async () => {
    const d = await daemonWith({
      read: () => Promise.reject(new DirectoryError('LDAP server unreachable: ldaps://dc1')),
    });
    await d.scheduler.idle();

    const ready = await get(`${d.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toMatchObject({
      ready: false,
      reason: 'no run has succeeded yet; the last one ended: failed',
      lastRun: { outcome: 'failed', error: 'LDAP server unreachable: ldaps://dc1' },
    });
    const metrics = (await get(`${d.url}/metrics`)).text;
    expect(sample(metrics, 'dirsync_errors_total', '{kind="DirectoryError"}')).toBe(1);
    expect(sample(metrics, 'dirsync_errors_total', '{kind="ApiError"}')).toBe(0);
    expect(sample(metrics, 'dirsync_runs_total', '{outcome="failed"}')).toBe(1);
    expect(sample(metrics, 'dirsync_last_success_timestamp_seconds')).toBe(0);
    expect(writesOf(mock!.requests)).toEqual([]);
  });

  it('counts the rail an empty read trips, by name, and sends no write', async () => {
    const d = await daemonWith({ read: () => Promise.resolve(emptySnapshot()) });
    await d.scheduler.idle();

    const metrics = (await get(`${d.url}/metrics`)).text;
    expect(sample(metrics, 'dirsync_rails_tripped_total', '{rail="emptyRead"}')).toBe(1);
    expect(sample(metrics, 'dirsync_errors_total', '{kind="SafetyError"}')).toBe(1);
    expect(sample(metrics, 'dirsync_runs_total', '{outcome="refused"}')).toBe(1);
    expect(sample(metrics, 'dirsync_directory_users')).toBe(0);
    expect(sample(metrics, 'dirsync_organization_users')).toBe(12);
    expect((await get(`${d.url}/readyz`)).status).toBe(503);
    expect(writesOf(mock!.requests)).toEqual([]);
  });

  it('counts the budget that held actions back; the rest applied and the run succeeded', async () => {
    // The demo's first run suspends two users; the budget allows one.
    const d = await daemonWith(undefined, 5_000, { maxSuspends: 1 });
    await d.scheduler.idle();

    const metrics = (await get(`${d.url}/metrics`)).text;
    expect(sample(metrics, 'dirsync_rails_tripped_total', '{rail="maxSuspends"}')).toBe(1);
    expect(sample(metrics, 'dirsync_runs_total', '{outcome="success"}')).toBe(1);
    expect(writesOf(mock!.requests).some((r) => r.path === '/togglesuspension')).toBe(false);
    expect(writesOf(mock!.requests).some((r) => r.path === '/modifyallusernames')).toBe(true);
  });

  it('stops a run stuck in a directory read that ignores the stop: the shutdown is clean', async () => {
    let statePath = '';
    const d = await daemonWith(
      { read: () => new Promise<DirectorySnapshot>(() => {}) },
      5_000,
      undefined,
      {
        onStatePath: (p) => (statePath = p),
      },
    );
    expect(d.scheduler.busy).toBe(true);
    expect(existsSync(`${statePath}.lock`)).toBe(true);

    expect(await d.stop('test')).toBe('clean');
    daemon = undefined;

    expect(existsSync(`${statePath}.lock`)).toBe(false);
    expect(
      sample(await d.metrics.registry.metrics(), 'dirsync_runs_total', '{outcome="aborted"}'),
    ).toBe(1);
  });

  it('gives up waiting for a stuck run after the shutdown timeout, and releases its lock', async () => {
    let statePath = '';
    const d = await daemonWith(
      { read: () => new Promise<DirectorySnapshot>(() => {}) },
      100,
      undefined,
      {
        closeHangs: true,
        onStatePath: (p) => (statePath = p),
      },
    );
    expect(d.scheduler.busy).toBe(true);
    expect(existsSync(`${statePath}.lock`)).toBe(true);

    expect(await d.stop('test')).toBe('timed-out');
    daemon = undefined;

    expect(existsSync(`${statePath}.lock`)).toBe(false);
  });
});
