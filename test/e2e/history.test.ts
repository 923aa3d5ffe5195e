import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockServer } from '../../src/mock/server.js';
import { demoConfig, startDemoMock } from '../integration/audit/support.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { runCli } from './support.js';

const SECRET_PATH = '/services/T1/B2/e2e-s3cr3t';

let mock: MockServer | undefined;
let receiver: Receiver | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  await mock?.close();
  mock = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The demo directory against a mock where rita holds mia's card, one webhook to `receiver`. */
async function setup(answer: Parameters<typeof startReceiver>[0]): Promise<string> {
  mock = await startDemoMock({ cardClash: true });
  receiver = await startReceiver(answer);
  const url = receiver.url + SECRET_PATH;
  const { dir, configFile } = demoConfig(mock.url, (c) => {
    c['notify'] = { webhooks: [{ url, format: 'slack' }] };
  });
  dirs.push(dir);
  return configFile;
}

describe('dirsync history and notifications (built CLI)', () => {
  it('prints "no audit entries" before any run, and exits 0', async () => {
    const config = await setup(() => ({ status: 200 }));

    const result = await runCli(['history', '--config', config]);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^no audit entries in .*audit\n$/);
  });

  it('apply writes the audit trail and notifies failed actions; history prints it, filtered by user and time', async () => {
    const config = await setup(() => ({ status: 200 }));

    const apply = await runCli(['apply', '--config', config]);
    expect(apply.code).toBe(4);
    const [post] = await receiver!.waitFor(1);
    expect(post!.path).toBe(SECRET_PATH);
    expect((post!.body as { text: string }).text).toContain(
      'failed set_smartcards mia.ops@corp.example.com',
    );
    expect(apply.stderr).not.toContain('s3cr3t');

    const all = await runCli(['history', '--config', config]);
    expect(all.code).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(all.stdout).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}applied {3}suspend {16}fred\.former@corp\.example\.com {2}ACTIVE -> SUSPENDED {2}not in the directory/m,
    );
    expect(all.stdout).toMatch(
      /failed {4}set_smartcards {9}mia\.ops@corp\.example\.com {2}\[\] -> \[555001\] {2}.*400/,
    );
    const times = lines.map((l) => l.slice(0, 20));
    expect([...times].sort()).toEqual(times); // oldest first, newest last

    const mia = await runCli(['history', 'MIA.OPS@corp.example.com', '--config', config]);
    expect(mia.code).toBe(0);
    const miaLines = mia.stdout.trimEnd().split('\n');
    expect(miaLines.length).toBeGreaterThan(0);
    expect(miaLines.every((l) => l.includes('mia.ops@corp.example.com'))).toBe(true);

    const json = await runCli(['history', '--json', '--since', '1h', '--config', config]);
    const entries = json.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries).toHaveLength(lines.length);
    const miaId = entries.find((e) => e['email'] === 'mia.ops@corp.example.com')!['email_id'];
    const byId = await runCli(['history', String(miaId), '--config', config]);
    expect(byId.stdout).toBe(mia.stdout);

    const future = await runCli(['history', '--since', '2099-01-01', '--config', config]);
    expect(future.code).toBe(0);
    expect(future.stdout).toMatch(/^no audit entries since 2099-01-01T00:00:00\.000Z in /);

    const bad = await runCli(['history', '--since', 'last week', '--config', config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since "last week" is neither a duration nor a date');
    expect(bad.stderr).toContain('To fix:');
  });

  it('a hanging webhook does not hold apply: it exits within the bounded wait, naming no URL', async () => {
    const config = await setup(() => 'hang');

    const began = Date.now();
    const apply = await runCli(['apply', '--config', config]);
    const elapsed = Date.now() - began;

    expect(apply.code).toBe(4);
    expect(receiver!.received).toHaveLength(1);
    // The run itself takes about a second; the post gets at most 5 s more at exit.
    expect(elapsed).toBeLessThan(12_000);
    expect(apply.stderr).toContain('notifications still in flight at exit; dropped');
    expect(apply.stderr).not.toContain('s3cr3t');
  });
});
