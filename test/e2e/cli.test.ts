import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support.js';

describe('dirsync CLI', () => {
  it('runs the embedded demo: plan, apply, and a second plan with nothing to do (npm start)', async () => {
    const result = await runCli(['demo']);
    expect(result.code).toBe(0);
    const [, first, applied, second] = result.stdout.split('\n=== ');
    expect(first).toContain(
      'Plan: 1 to promote, 0 to unsuspend, 8 username changes, 1 smart card change, 9 rank changes, 2 to suspend, 0 to remove.',
    );
    expect(applied).toMatch(/set_rank: 9 applied/);
    expect(second).toContain('No changes. The organization matches the directory.');
  });

  it('exits 2 on a config error, naming the key, with a To fix line and no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-cli-'));
    const config = join(dir, 'dirsync.yaml');
    writeFileSync(
      config,
      'source: { type: ldif, file: x.ldif }\napi: { baseUrl: https://api.example.com, token: t }\nrules: { scope: { emailDomains: [x.com] } }\nsafety: { maxDeletes: many }\n',
    );
    const result = await runCli(['plan', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`config ${config} is invalid`);
    expect(result.stderr).toContain('safety.maxDeletes');
    expect(result.stderr).toContain('To fix:');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 on an unknown key with a suggestion, and on a missing secret file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-cli-'));
    const typo = join(dir, 'typo.yaml');
    writeFileSync(
      typo,
      'source: { type: ldif, file: x.ldif }\napi: { baseUrl: https://api.example.com, token: t }\nrules: { scope: { emailDomain: [x.com] } }\n',
    );
    const unknown = await runCli(['plan', '--config', typo]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'rules.scope.emailDomain (line 3): unknown key; did you mean emailDomains?',
    );

    const secret = join(dir, 'secret.yaml');
    writeFileSync(
      secret,
      'source: { type: ldif, file: x.ldif }\napi: { baseUrl: https://api.example.com, tokenFile: missing-token }\nrules: { scope: { emailDomains: [x.com] } }\n',
    );
    const missing = await runCli(['plan', '--config', secret]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      `config key api.tokenFile names ${join(dir, 'missing-token')}, which cannot be read (ENOENT)`,
    );
  });

  it('exits 2 when the config file is missing, and reads DIRSYNC_CONFIG', async () => {
    const result = await runCli(['plan'], { DIRSYNC_CONFIG: '/nonexistent/dirsync.yaml' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('config /nonexistent/dirsync.yaml cannot be read (ENOENT)');
  });

  it('refuses a bad DIRSYNC_HEAP_GROWING_PERCENT before anything runs, and takes a good one', async () => {
    const bad = await runCli(['--version'], { DIRSYNC_HEAP_GROWING_PERCENT: 'lots' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      'error: DIRSYNC_HEAP_GROWING_PERCENT "lots" is not a whole number',
    );
    const good = await runCli(['--version'], { DIRSYNC_HEAP_GROWING_PERCENT: '0' });
    expect(good.code).toBe(0);
  });

  it('prints the version and the config schema', async () => {
    expect((await runCli(['--version'])).stdout.trim()).toBe('0.1.0');
    const schema = JSON.parse((await runCli(['config', 'schema'])).stdout) as {
      properties: Record<string, unknown>;
    };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['source', 'api', 'rules', 'safety']),
    );
  });

  it('prints the version with -V as with --version', async () => {
    const short = await runCli(['-V']);
    const long = await runCli(['--version']);

    expect(short).toEqual({ code: 0, stdout: long.stdout, stderr: '' });
    expect(short.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('lists every exit code in --help', async () => {
    const result = await runCli(['--help']);

    expect(result.code).toBe(0);
    const footer = result.stdout.slice(result.stdout.indexOf('Exit codes:'));
    for (const code of [0, 1, 2, 3, 4, 5])
      expect(footer).toMatch(new RegExp(`^  ${code}  \\w`, 'm'));
    expect(footer).toContain('bad config or usage');
  });
});
