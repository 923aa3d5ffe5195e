import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support.js';

const SECRETS = { DIRSYNC_LDAP_PASSWORD: 'bind-secret', DIRSYNC_API_TOKEN: 'api-token' };

describe('dirsync config init', () => {
  it.each(['ad', 'openldap'])(
    'writes a commented %s starter that config validate accepts',
    async (flavor) => {
      const out = join(mkdtempSync(join(tmpdir(), 'dirsync-init-')), 'dirsync.yaml');

      const init = await runCli(['config', 'init', '--flavor', flavor, '--out', out]);
      const validate = await runCli(['config', 'validate', '--config', out], SECRETS);

      expect(init.code).toBe(0);
      expect(init.stdout).toContain(`to ${out}`);
      const text = readFileSync(out, 'utf8');
      expect(text).toContain(`  flavor: ${flavor}\n`);
      expect(text).toContain('# yaml-language-server: $schema=./dirsync.schema.json');
      expect(validate).toEqual({ code: 0, stdout: `config ${out}: valid\n`, stderr: '' });
    },
  );

  it('never overwrites a file without --force', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'dirsync-init-')), 'dirsync.yaml');
    writeFileSync(out, 'mine\n');

    const refused = await runCli(['config', 'init', '--out', out]);

    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${out} exists already; nothing was written`);
    expect(readFileSync(out, 'utf8')).toBe('mine\n');

    const forced = await runCli(['config', 'init', '--out', out, '--force']);

    expect(forced.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('source:\n  type: ldap\n');
  });

  it('prints to stdout with --out -, and refuses a flavor it has no starter for', async () => {
    const printed = await runCli(['config', 'init', '--out', '-', '--flavor', 'openldap']);
    const unknown = await runCli(['config', 'init', '--out', '-', '--flavor', 'novell']);

    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('startTls: true');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--flavor novell');
  });
});

describe('dirsync config validate', () => {
  it('exits 2 naming the key and its line, without connecting anywhere', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'dirsync-init-')), 'dirsync.yaml');
    await runCli(['config', 'init', '--out', out]);
    writeFileSync(
      out,
      readFileSync(out, 'utf8').replace(
        '  users:\n',
        '  users:\n    filter: (&(objectClass=user)(mail=*)\n',
      ),
    );

    const result = await runCli(['config', 'validate', '--config', out], SECRETS);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /source\.users\.filter \(line \d+\): not a valid LDAP filter: 1 "\(" not closed/,
    );
  });

  it.each([
    [
      'a schedule.cron that is not a cron expression',
      'schedule:\n  cron: "61 * * * *"\n',
      'schedule.cron "61 * * * *" is not a cron expression',
    ],
    [
      'a webhook URL file that cannot be read',
      'notify:\n  webhooks:\n    - { urlFile: ./no-such-webhook-url }\n',
      'config key notify.webhooks[0].urlFile names',
    ],
  ])('exits 2 for %s, as the daemon would', async (_, yaml, message) => {
    const out = join(mkdtempSync(join(tmpdir(), 'dirsync-init-')), 'dirsync.yaml');
    await runCli(['config', 'init', '--out', out]);
    writeFileSync(out, readFileSync(out, 'utf8') + yaml);

    const result = await runCli(['config', 'validate', '--config', out], SECRETS);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
  });
});
