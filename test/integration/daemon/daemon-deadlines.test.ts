import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startTrickleServer, type TrickleServer } from '../../support/trickle.js';
import { DaemonProcess, get, sample, writeDaemonConfig } from './support.js';

let daemon: DaemonProcess | undefined;
let api: TrickleServer | undefined;

afterEach(async () => {
  daemon?.kill();
  daemon = undefined;
  await api?.close();
  api = undefined;
});

describe('dirsync daemon: schedule.runTimeout', () => {
  it('stops a run stuck in a trickling organization read; the next scheduled run is not skipped', async () => {
    // Arrange: an API that answers 200 and then a byte every 200 ms, for ever; a run every
    // second, stopped after 2 s (the request deadline, 120 s, is far off).
    api = await startTrickleServer(200);
    const { configFile, statePath } = writeDaemonConfig({
      apiUrl: api.url,
      cron: '* * * * * *',
      runTimeout: '2s',
    });

    // Act
    daemon = new DaemonProcess(configFile);
    const stopped = await daemon.waitForLine(
      (l) => l.message === 'run stopped before finishing',
      15_000,
    );
    const next = await daemon.waitForLine(
      (l) => l.message === 'run started' && l['runId'] !== stopped['runId'],
      15_000,
    );

    // Assert: the stuck run was stopped, counted as a timeout, and the schedule went on.
    expect(stopped['error']).toMatch(/^run stopped \(timeout\) while reading the organization/);
    expect(next['trigger']).toBe('schedule');
    const metrics = (await get(`${await daemon.url()}/metrics`)).text;
    expect(sample(metrics, 'dirsync_runs_total', '{outcome="timeout"}')).toBeGreaterThanOrEqual(1);

    // SIGTERM: the run going now is stopped at once, the daemon exits 0 and leaves no lock.
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    expect(existsSync(`${statePath}.lock`)).toBe(false);
  }, 40_000);
});
