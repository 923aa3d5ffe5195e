import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configErrorOf } from '../../support/errors.js';

function aConfigFile(yaml: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const path = join(dir, 'dirsync.yaml');
  writeFileSync(path, yaml);
  return path;
}

const minimal = (extra = '', source = ''): string => `source:
  type: ldap
  urls: [ldaps://dc1.corp.example.com]
  bindDn: CN=svc,DC=corp,DC=example,DC=com
  bindPasswordFile: ldap-password
  users:
    baseDns:
      - OU=Staff,DC=corp,DC=example,DC=com
${source}api:
  baseUrl: https://api.example.com
  token: \${DIRSYNC_API_TOKEN}
rules:
  scope: { emailDomains: [corp.example.com] }
${extra}`;

describe('loadConfig', () => {
  it('expands ${ENV}, reads secret files relative to the config, and fills defaults', () => {
    const path = aConfigFile(minimal(), { 'ldap-password': 's3cret\n' });
    const { config, secrets } = loadConfig(path, { DIRSYNC_API_TOKEN: 'tok' });
    expect(secrets).toEqual({ bindPassword: 's3cret', token: 'tok' });
    expect(config.state.path).toBe(join(path, '..', 'state', 'dirsync.json'));
    expect(config.safety.maxDeletes).toBe(25);
    expect(config.rules.removed).toEqual({ action: 'suspend', graceDays: 7 });
  });

  it('names an unset environment variable and the key that uses it', () => {
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(minimal(), { 'ldap-password': 'x' }), {}),
    );
    expect(error.message).toContain(
      'config key api.token refers to ${DIRSYNC_API_TOKEN}, which is not set',
    );
  });

  it('names a missing secret file and the key', () => {
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(minimal()), { DIRSYNC_API_TOKEN: 't' }),
    );
    expect(error.message).toMatch(
      /config key source.bindPasswordFile names .*ldap-password, which cannot be read \(ENOENT\)/,
    );
  });

  it('suggests the key an unknown key was probably meant to be', () => {
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(minimal('safety: { maxDelete: 3 }\n'), { 'ldap-password': 'x' }), {
        DIRSYNC_API_TOKEN: 't',
      }),
    );
    expect(error.message).toContain('safety.maxDelete: unknown key; did you mean maxDeletes?');
    expect(error.hint).toContain('config schema');
  });

  it('suggests inside the ldap source too', () => {
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(minimal('', '  pagesize: 100\n'), { 'ldap-password': 'x' }), {
        DIRSYNC_API_TOKEN: 't',
      }),
    );
    expect(error.message).toContain('source.pagesize: unknown key; did you mean pageSize?');
  });

  it('names the key and what is allowed for a wrong type or value', () => {
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(minimal('  removed: { action: purge }\n'), { 'ldap-password': 'x' }), {
        DIRSYNC_API_TOKEN: 't',
      }),
    );
    expect(error.message).toMatch(/rules.removed.action: .*"delete"\|"suspend"\|"ignore"/);
  });

  it('refuses an empty LDAP filter instead of reading it as "everything"', () => {
    const yaml = minimal(
      '',
      '  groups:\n    baseDns:\n      - OU=Groups,DC=corp\n    filter: "  "\n',
    );
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );
    expect(error.message).toContain('source.groups.filter: an empty filter is not allowed');
  });

  it('refuses DNs that a YAML flow list split at their commas', () => {
    const yaml = minimal('  ranks: { ADMIN: [CN=Admins,OU=Groups,DC=corp] }\n');
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );
    expect(error.message).toContain(
      'rules.ranks.ADMIN: these look like pieces of DNs split at their commas',
    );
  });

  it('wants a password when a bind DN is set', () => {
    const yaml = minimal().replace('  bindPasswordFile: ldap-password\n', '');
    const error = configErrorOf(() => loadConfig(aConfigFile(yaml), { DIRSYNC_API_TOKEN: 't' }));
    expect(error.message).toContain('source.bindDn is set but no password is');
  });
});
