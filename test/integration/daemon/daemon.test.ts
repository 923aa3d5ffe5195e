import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFaults } from '../../../src/mock/faults.js';
import { loadSeedFile } from '../../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../../src/mock/server.js';
import { StateStore } from '../../../src/state/store.js';
import { mockState } from '../../support/mock.js';
import {
  DaemonProcess,
  get,
  mockRequests,
  ROOT,
  sample,
  samples,
  writeDaemonConfig,
  writesOf,
} from './support.js';

const EVERY_SECOND = '* * * * * *';
/** Never due during a test: only the run at start happens. */
const ONCE_A_YEAR = '0 0 1 1 *';

let mock: MockServer | undefined;
const daemons: DaemonProcess[] = [];
const dirs: string[] = [];

async function startMock(faults: unknown): Promise<MockServer> {
  mock = await startMockServer({
    seed: loadSeedFile(join(ROOT, 'config/demo-org.yaml')),
    faults: parseFaults(faults, 'test faults'),
    port: 0,
  });
  return mock;
}

function startDaemon(configFile: string): DaemonProcess {
  const daemon = new DaemonProcess(configFile, { DIRSYNC_SHUTDOWN_TIMEOUT: '10s' });
  daemons.push(daemon);
  return daemon;
}

afterEach(async () => {
  for (const d of daemons.splice(0)) d.kill();
  await mock?.close();
  mock = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('dirsync daemon', () => {
  it('serves /healthz, /readyz (503 until a run succeeds, then 200) and /metrics; skips a run that is due while one is going', async () => {
    // 200 ms per request makes the first run (21 actions) outlast a one-second schedule;
    // seeded 429s make the retry counters move.
    const api = await startMock({
      seed: 3,
      '*': { latencyMs: 200, rate429: 0.1, retryAfterSeconds: 0 },
    });
    const { dir, configFile } = writeDaemonConfig({ apiUrl: api.url, cron: EVERY_SECOND });
    dirs.push(dir);
    const startedAt = Date.now() / 1000;
    const daemon = startDaemon(configFile);
    const url = await daemon.url();

    expect(await get(`${url}/healthz`)).toEqual({ status: 200, text: '{"status":"ok"}' });
    const before = await get(`${url}/readyz`);
    expect(before.status).toBe(503);
    expect(JSON.parse(before.text)).toMatchObject({
      ready: false,
      reason: 'no run has completed yet',
    });

    const first = await daemon.waitForLine((l) => l.message === 'run finished', 15_000);
    expect(first).toMatchObject({ outcome: 'success', failed: 0 });
    expect(first['runId']).toMatch(/^[0-9a-f]{8}$/);
    const after = await get(`${url}/readyz`);
    expect(after.status).toBe(200);
    expect(JSON.parse(after.text)).toMatchObject({ ready: true, windowMs: 2000 });

    // The first run took longer than a second: the ticks during it were skipped, with a warning.
    const skipped = daemon.lines.filter(
      (l) => l.message === 'run skipped: the previous run is still going',
    );
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped[0]).toMatchObject({ level: 'warn' });
    // ... and never two at once: every "run started" after the first follows a "run finished".
    const sequence = daemon.lines
      .filter((l) => l.message === 'run started' || l.message === 'run finished')
      .map((l) => l.message);
    for (let i = 1; i < sequence.length; i++) expect(sequence[i]).not.toBe(sequence[i - 1]);

    const loggedBefore = (await mockRequests(api.url)).filter((r) => r.status === 429).length;
    const metrics = await get(`${url}/metrics`);
    const loggedAfter = (await mockRequests(api.url)).filter((r) => r.status === 429).length;
    expect(metrics.status).toBe(200);
    const text = metrics.text;
    expect(sample(text, 'dirsync_directory_users')).toBe(10);
    expect(sample(text, 'dirsync_organization_users')).toBe(12);
    expect(sample(text, 'dirsync_actions_total', '{kind="set_rank",outcome="applied"}')).toBe(9);
    expect(
      sample(text, 'dirsync_actions_total', '{kind="set_computer_usernames",outcome="applied"}'),
    ).toBe(8);
    expect(sample(text, 'dirsync_actions_total', '{kind="suspend",outcome="applied"}')).toBe(2);
    expect(sample(text, 'dirsync_actions_total', '{kind="promote_guest",outcome="applied"}')).toBe(
      1,
    );
    const lastSuccess = sample(text, 'dirsync_last_success_timestamp_seconds') ?? 0;
    expect(lastSuccess).toBeGreaterThan(startedAt);
    expect(lastSuccess).toBeLessThanOrEqual(Date.now() / 1000);
    expect(
      sample(text, 'dirsync_run_duration_seconds_count', '{outcome="success"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'dirsync_run_duration_seconds_sum', '{outcome="success"}')).toBeGreaterThan(
      0.5,
    );
    expect(sample(text, 'dirsync_runs_skipped_total')).toBeGreaterThanOrEqual(skipped.length);
    const rateLimited = sample(text, 'dirsync_api_rate_limited_total') ?? -1;
    expect(rateLimited).toBeGreaterThan(0);
    expect(rateLimited).toBeGreaterThanOrEqual(loggedBefore);
    expect(rateLimited).toBeLessThanOrEqual(loggedAfter);
    expect(sample(text, 'dirsync_api_retries_total')).toBeGreaterThanOrEqual(rateLimited);
    expect([...samples(text, 'dirsync_errors_total').values()]).toEqual([0, 0, 0, 0, 0]);
    expect(sample(text, 'dirsync_rails_tripped_total', '{rail="maxDeletes"}')).toBe(0);
    expect(sample(text, 'dirsync_run_in_progress')).toBeDefined();
    expect(sample(text, 'dirsync_process_cpu_user_seconds_total')).toBeGreaterThan(0);

    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    // Secrets never reach the log.
    expect(daemon.stderr).not.toContain('demo-super-token');
  });

  it('on SIGTERM mid-run finishes the in-flight actions, journals them, exits 0; the next start converges', async () => {
    const api = await startMock({ '*': { latencyMs: 50 } });
    // One action at a time: the run takes a couple of seconds.
    const { dir, configFile, statePath } = writeDaemonConfig({
      apiUrl: api.url,
      cron: ONCE_A_YEAR,
      concurrency: 1,
    });
    dirs.push(dir);
    const daemon = startDaemon(configFile);
    await daemon.url();
    for (let i = 0; i < 500 && writesOf(api.requests).length < 6; i++)
      await new Promise((r) => setTimeout(r, 10));
    const signalledAt = Date.now();
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
    expect(daemon.lines.map((l) => l.message)).toContain('daemon stopped');
    expect(daemon.runsFinished()).toEqual([
      expect.objectContaining({ outcome: 'aborted' }) as unknown,
    ]);

    // Every write the API applied is in the state record.
    const firstWrites = writesOf(await mockRequests(api.url));
    expect(firstWrites.length).toBeGreaterThanOrEqual(6);
    expect(firstWrites.length).toBeLessThan(21);
    const org = (await mockState(api.url)).organizations.find((o) => o.name === 'corp')!;
    const emailIdOfUserId = new Map(org.users.map((u) => [u.user_id, u.email_id]));
    const store = StateStore.open(statePath, api.url);
    const users = store.state.users;
    for (const w of firstWrites) {
      expect(w.status).toBe(200);
      const p = w.params as Record<string, string>;
      switch (w.path) {
        case '/modifyrank':
          expect(users[String(emailIdOfUserId.get(Number(p['admin_user_id'])))]?.rank).toBe(
            p['rank'],
          );
          break;
        case '/modifyallusernames':
          expect(users[p['email_id']!]?.computerUsernames).toEqual(
            (JSON.parse(p['computer_usernames']!) as { computer_username: string }[])
              .map((c) => c.computer_username)
              .sort(),
          );
          break;
        case '/togglesuspension':
          expect(users[p['email_id']!]?.suspendedByDirsync).toBe(true);
          break;
        case '/modifysmartcard':
          expect(users[p['email_id']!]?.smartcards).toEqual(
            (JSON.parse(p['smartcards']!) as { number: string }[]).map((c) => c.number).sort(),
          );
          break;
      }
    }
    store.close();

    // The next start sends only what is left, never a write twice, and then has nothing to do.
    writeDaemonConfig({ apiUrl: api.url, cron: EVERY_SECOND, concurrency: 8, dir });
    const restarted = startDaemon(configFile);
    await restarted.waitForLine(
      (l) => l.message === 'run finished' && l['skipped'] === 0 && l['failed'] === 0,
      15_000,
    );
    const allWrites = writesOf(await mockRequests(api.url));
    const keys = allWrites.map((w) => `${w.path} ${JSON.stringify(w.params)}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(allWrites.length).toBe(21);

    const quietFrom = restarted.runsFinished().length;
    await restarted.waitForLine(() => restarted.runsFinished().length > quietFrom, 5_000);
    const quiet = restarted.runsFinished()[quietFrom]!;
    expect(quiet).toMatchObject({ outcome: 'success' });
    expect(quiet['counts']).toEqual({});
    expect(writesOf(await mockRequests(api.url))).toHaveLength(21);

    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
  });
});
