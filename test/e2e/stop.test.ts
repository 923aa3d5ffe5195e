import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFaults } from '../../src/mock/faults.js';
import { loadSeedFile } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import { ROOT, writeDaemonConfig, writesOf } from '../integration/daemon/support.js';
import { startTrickleServer, type TrickleServer } from '../support/trickle.js';
import { spawnCli } from './support.js';

let api: TrickleServer | undefined;
let mock: MockServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
  await mock?.close();
  mock = undefined;
});

describe('dirsync apply stopped by a signal', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s during a read that trickles: exits 5 at once, says so, leaves no lock',
    async (signal) => {
      // Arrange: an API that answers 200 and then one byte every 200 ms, for ever.
      api = await startTrickleServer(200);
      const { configFile, statePath } = writeDaemonConfig({ apiUrl: api.url, cron: '0 * * * *' });
      const proc = spawnCli(['apply', '--config', configFile]);
      let stderr = '';
      proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = once(proc, 'exit') as Promise<[number | null]>;
      while (api.seen.length === 0) await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(`${statePath}.lock`)).toBe(true);

      // Act
      proc.kill(signal);
      const [code] = await exited;

      // Assert
      expect(code).toBe(5);
      expect(stderr).toContain(
        `error: run stopped (${signal}) while reading the organization: nothing was applied`,
      );
      expect(stderr).not.toContain('looks like a bug');
      expect(existsSync(`${statePath}.lock`)).toBe(false);
    },
    20_000,
  );

  it('SIGTERM mid-apply: writes in flight finish, the rest is not sent, exit 5 (not 0), no lock', async () => {
    // Arrange: the demo organization (21 writes to make), one at a time, 100 ms each.
    mock = await startMockServer({
      seed: loadSeedFile(join(ROOT, 'config/demo-org.yaml')),
      faults: parseFaults({ '*': { latencyMs: 100 } }, 'test faults'),
      port: 0,
    });
    const { configFile, statePath } = writeDaemonConfig({
      apiUrl: mock.url,
      cron: '0 * * * *',
      concurrency: 1,
    });
    const proc = spawnCli(['apply', '--config', configFile]);
    let stdout = '';
    proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = once(proc, 'exit') as Promise<[number | null]>;
    while (writesOf(mock.requests).length < 3) await new Promise((r) => setTimeout(r, 10));

    // Act
    proc.kill('SIGTERM');
    const [code] = await exited;

    // Assert
    expect(code).toBe(5);
    expect(stdout).toMatch(
      /STOPPED: run stopped \(SIGTERM\) before finishing: \d+ actions not sent/,
    );
    expect(stdout).toMatch(/skipped \w+ \S+: stopped before it was sent/);
    expect(writesOf(mock.requests).length).toBeLessThan(21);
    expect(existsSync(`${statePath}.lock`)).toBe(false);
    const reports = readdirSync(join(dirname(statePath), 'reports'));
    const report = JSON.parse(
      readFileSync(join(dirname(statePath), 'reports', reports[0]!), 'utf8'),
    ) as { stopped?: { signal?: string } };
    expect(report.stopped?.signal).toBe('SIGTERM');
  }, 30_000);
});
