import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadSeedFile } from '../../src/mock/seed.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';
import { ROOT, writeDaemonConfig } from '../integration/daemon/support.js';
import { runCli } from './support.js';

let mock: MockServer | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

interface StatusJson {
  runs: {
    runId: string;
    outcome: string;
    totals: Record<string, number>;
    railsTripped: { rail: string }[];
    held: number;
    planFile?: string;
    error?: string;
  }[];
}

describe('dirsync status', () => {
  it('says so when no run has been recorded', async () => {
    const { configFile } = writeDaemonConfig({ apiUrl: 'http://127.0.0.1:9', cron: '0 * * * *' });

    const result = await runCli(['status', '--config', configFile]);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^no runs recorded yet in .*reports/);
  });

  it('shows the last runs, newest first: a failed one, and one with held actions and the plan to review', async () => {
    mock = await startMockServer({
      seed: loadSeedFile(join(ROOT, 'config/demo-org.yaml')),
      port: 0,
    });
    const { configFile } = writeDaemonConfig({
      apiUrl: mock.url,
      cron: '0 * * * *',
      safety: { maxSuspends: 1 },
    });
    const held = await runCli(['apply', '--config', configFile]);
    expect(held.code).toBe(3);
    // The next run cannot read its directory: it fails, and writes no report.
    const config = parse(readFileSync(configFile, 'utf8')) as Record<string, object>;
    writeFileSync(
      configFile,
      stringify({ ...config, source: { ...config['source'], file: '/nonexistent/dir.ldif' } }),
    );
    const failed = await runCli(['apply', '--config', configFile]);
    expect(failed.code).not.toBe(0);

    const text = await runCli(['status', '--config', configFile]);
    const json = await runCli(['status', '--config', configFile, '--json']);

    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^Last 2 runs, newest first/);
    expect(lines[1]).toMatch(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}run \w+ {2}failed$/);
    expect(lines[2]).toContain('error: LDIF file /nonexistent/dir.ldif cannot be read');
    expect(lines[3]).toMatch(/run \w+ {2}held in \d+\.\d s: \d+ applied/);
    expect(text.stdout).toContain('    rail maxSuspends: ');
    expect(text.stdout).toMatch(/ {4}held back: \d+ actions, not sent/);
    expect(text.stdout).toMatch(
      /review: .*plans\/held-.*\.json; apply exactly it with: dirsync apply --config .* --plan .*held-/,
    );
    const status = JSON.parse(json.stdout) as StatusJson;
    expect(status.runs.map((r) => r.outcome)).toEqual(['failed', 'held']);
    const [, heldRun] = status.runs;
    expect(heldRun!.railsTripped.map((t) => t.rail)).toContain('maxSuspends');
    expect(heldRun!.held).toBeGreaterThan(0);
    expect(heldRun!.totals['applied']).toBeGreaterThan(0);
    expect(readFileSync(heldRun!.planFile!, 'utf8')).toContain('"actions"');
  });
});
