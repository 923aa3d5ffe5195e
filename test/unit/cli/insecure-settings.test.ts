import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openRunContext } from '../../../src/cli/context.js';

function configFile(tls: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-tls-'));
  const file = join(dir, 'dirsync.yaml');
  writeFileSync(
    file,
    `source:
  type: ldap
  flavor: openldap
  urls: [ldaps://127.0.0.1:1]
  tls: ${tls}
  users: { baseDns: ["ou=people,dc=example,dc=com"] }
api:
  baseUrl: http://127.0.0.1:9
  token: tok-for-tls-test
rules:
  scope: { emailDomains: [example.com] }
state: { path: ${join(dir, 'state', 'dirsync.json')} }
log: { format: json }
`,
  );
  return file;
}

/** The log lines one run context writes while it opens and closes. */
async function openAndClose(file: string): Promise<Record<string, unknown>[]> {
  const stderr = new PassThrough();
  let output = '';
  stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const run = openRunContext(file, {}, stderr, { lock: false });
  await run.close();
  await new Promise((resolve) => setImmediate(resolve));
  return output
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('rejectUnauthorized: false', () => {
  it('logs a warning naming the key on every run', async () => {
    const file = configFile('{ rejectUnauthorized: false }');

    const runs = [await openAndClose(file), await openAndClose(file)];

    for (const lines of runs) {
      const warnings = lines.filter((l) => l['level'] === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.['key']).toBe('source.tls.rejectUnauthorized');
      expect(String(warnings[0]?.['message'])).toContain('source.tls.rejectUnauthorized is false');
    }
  });

  it('is quiet when certificates are verified', async () => {
    const lines = await openAndClose(configFile('{ rejectUnauthorized: true }'));
    expect(lines.filter((l) => l['level'] === 'warn')).toEqual([]);
  });
});
