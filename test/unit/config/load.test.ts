import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfigFiles, loadConfig } from '../../../src/config/load.js';
import { readStructuredFile } from '../../../src/config/file.js';
import { describeError } from '../../../src/errors.js';
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
    expect(error.message).toMatch(
      /safety\.maxDelete \(line \d+\): unknown key; did you mean maxDeletes\?/,
    );
    expect(error.hint).toContain('config schema');
  });

  it('suggests inside the ldap source too', () => {
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(minimal('', '  pagesize: 100\n'), { 'ldap-password': 'x' }), {
        DIRSYNC_API_TOKEN: 't',
      }),
    );
    expect(error.message).toContain(
      'source.pagesize (line 9): unknown key; did you mean pageSize?',
    );
  });

  it('names the key and what is allowed for a wrong type or value', () => {
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(minimal('  removed: { action: purge }\n'), { 'ldap-password': 'x' }), {
        DIRSYNC_API_TOKEN: 't',
      }),
    );
    expect(error.message).toMatch(
      /rules\.removed\.action \(line \d+\): expected one of delete, suspend, ignore/,
    );
  });

  it('refuses an empty LDAP filter instead of reading it as "everything"', () => {
    const yaml = minimal(
      '',
      '  groups:\n    baseDns:\n      - OU=Groups,DC=corp\n    filter: "  "\n',
    );
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );
    expect(error.message).toContain(
      'source.groups.filter (line 12): an empty filter is not allowed',
    );
  });

  it('refuses DNs that a YAML flow list split at their commas', () => {
    const yaml = minimal('  ranks: { ADMIN: [CN=Admins,OU=Groups,DC=corp] }\n');
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );
    expect(error.message).toContain(
      'rules.ranks.ADMIN (line 14): these look like pieces of DNs split at their commas',
    );
  });

  it('wants a password when a bind DN is set', () => {
    const yaml = minimal().replace('  bindPasswordFile: ldap-password\n', '');
    const error = configErrorOf(() => loadConfig(aConfigFile(yaml), { DIRSYNC_API_TOKEN: 't' }));
    expect(error.message).toContain('source.bindDn is set but no password is');
  });

  it('says "required" for a missing key, and gives the line of its section', () => {
    const yaml = minimal().replace(
      '    baseDns:\n      - OU=Staff,DC=corp,DC=example,DC=com\n',
      '    filter: (objectClass=user)\n',
    );
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );
    expect(error.message).toMatch(/^ {2}source\.users\.baseDns \(line 6\): required$/m);
    expect(error.message).not.toContain('Invalid input');
  });

  it('says what a wrong type should be, and the line it is on, never the value', () => {
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(minimal('safety:\n  maxDeletes: lots\n'), { 'ldap-password': 'x' }), {
        DIRSYNC_API_TOKEN: 't',
      }),
    );
    expect(error.message).toContain('  safety.maxDeletes (line 15): expected a number, found text');
    expect(error.message).not.toContain('lots');
  });

  it('names the source types when source.type is missing', () => {
    const yaml = minimal().replace('  type: ldap\n', '');
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );
    expect(error.message).toContain('source.type (line 1): required: one of ldap, ldif, scim');
  });

  it.each([
    ['(&(objectClass=user)(mail=*)', '1 "(" not closed'],
    ['(objectClass=user))', 'a ")" closes more parentheses than were opened'],
    ['(mail=\\zz)', 'Invalid escaped hex character'],
  ])('refuses the invalid LDAP filter %s as a config error naming the key', (filter, why) => {
    const yaml = minimal('', `  groups:\n    filter: '${filter}'\n`);
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );
    expect(error.message).toContain(
      `  source.groups.filter (line 10): not a valid LDAP filter: ${why}`,
    );
  });

  it('says a bound in words: a number at least 0, at least 1 item', () => {
    const yaml = minimal('safety: { maxDeletes: -3 }\n').replace(
      '    baseDns:\n      - OU=Staff,DC=corp,DC=example,DC=com\n',
      '    baseDns: []\n',
    );

    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );

    expect(error.message).toContain('  safety.maxDeletes (line 13): expected a number at least 0');
    expect(error.message).toContain('  source.users.baseDns (line 7): expected at least 1 item');
  });

  it('keeps a message the schema wrote for a bound', () => {
    const yaml = minimal('', `  groups:\n    filter: ' '\n`);

    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );

    expect(error.message).toContain(
      'source.groups.filter (line 10): an empty filter is not allowed',
    );
  });

  it('lists an invalid LDAP filter with the schema problems, not only once they are fixed', () => {
    const yaml = minimal('safety: { maxDeletes: many }\n', `  groups:\n    filter: '(cn=x'\n`);

    const error = configErrorOf(() =>
      loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), { DIRSYNC_API_TOKEN: 't' }),
    );

    expect(error.message).toContain('  safety.maxDeletes (line 16): expected a number, found text');
    expect(error.message).toContain(
      '  source.groups.filter (line 10): not a valid LDAP filter: 1 "(" not closed',
    );
  });

  it('accepts the filters AD and OpenLDAP configs use', () => {
    const filter =
      '(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(mail=*\\28x\\29))';
    const yaml = minimal('', `  groups:\n    filter: '${filter}'\n`);
    const { config } = loadConfig(aConfigFile(yaml, { 'ldap-password': 'x' }), {
      DIRSYNC_API_TOKEN: 't',
    });
    expect(config.source.type === 'ldap' && config.source.groups.filter).toBe(filter);
  });

  it('says a file cannot be read once, not its errno twice', () => {
    const error = configErrorOf(() => readStructuredFile('/nonexistent/dirsync.yaml', 'config'));
    expect(describeError(error)).toBe('config /nonexistent/dirsync.yaml cannot be read (ENOENT)');
  });
});

describe('checkConfigFiles (check and config validate, before "valid")', () => {
  const withCa = (ca: Record<string, string>): string =>
    aConfigFile(minimal('', '  tls:\n    caFile: ca.pem\n'), { 'ldap-password': 'x', ...ca });
  const load = (path: string) => loadConfig(path, { DIRSYNC_API_TOKEN: 't' });

  it('names source.tls.caFile and its line when the file cannot be read', () => {
    const error = configErrorOf(() => checkConfigFiles(load(withCa({}))));
    expect(error.message).toMatch(
      /^config key source\.tls\.caFile \(line 10\) names .*ca\.pem, which cannot be read \(ENOENT\)$/,
    );
  });

  it('refuses a CA file that holds no PEM certificate', () => {
    const error = configErrorOf(() => checkConfigFiles(load(withCa({ 'ca.pem': 'not a cert\n' }))));
    expect(error.message).toContain('which holds no PEM certificate');
    expect(error.hint).toContain('openssl x509 -inform der');
  });

  it('refuses a PEM block that does not parse', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    const error = configErrorOf(() => checkConfigFiles(load(withCa({ 'ca.pem': broken }))));
    expect(error.message).toContain('whose certificate 1 of 1 does not parse');
  });

  it('refuses a simple bind over plain ldap:// to another host, naming the URL and its line', () => {
    const path = aConfigFile(
      minimal().replace(
        'urls: [ldaps://dc1.corp.example.com]',
        'urls:\n    - ldaps://dc1.corp.example.com\n    - ldap://dc2.corp.example.com',
      ),
      { 'ldap-password': 'x' },
    );

    const error = configErrorOf(() => checkConfigFiles(load(path)));

    expect(error.message).toBe(
      'config key source.urls[1] (line 5) is plain ldap://dc2.corp.example.com: a simple bind would send the password across the network unencrypted',
    );
    expect(error.hint).toContain('source.startTls: true');
  });

  it.each([
    ['ldap:// to loopback', 'urls: [ldap://127.0.0.1:3389]'],
    ['ldap:// with startTls', 'urls: [ldap://dc1.corp.example.com]\n  startTls: true'],
    [
      'ldap:// with allowPlaintextBind',
      'urls: [ldap://dc1.corp.example.com]\n  allowPlaintextBind: true',
    ],
  ])('accepts %s, as the connection does', (_, urls) => {
    const path = aConfigFile(minimal().replace('urls: [ldaps://dc1.corp.example.com]', urls), {
      'ldap-password': 'x',
    });

    expect(() => checkConfigFiles(load(path))).not.toThrow();
  });

  it('refuses a plain http:// api.baseUrl to another host, and accepts one to loopback or allowed', () => {
    const withApi = (api: string): string =>
      aConfigFile(minimal().replace('baseUrl: https://api.example.com', api), {
        'ldap-password': 'x',
      });

    const error = configErrorOf(() =>
      checkConfigFiles(load(withApi('baseUrl: http://api.example.com'))),
    );

    expect(error.message).toBe(
      'config key api.baseUrl (line 10) is plain http: the token would cross the network unencrypted',
    );
    expect(() => checkConfigFiles(load(withApi('baseUrl: http://127.0.0.1:8080')))).not.toThrow();
    expect(() =>
      checkConfigFiles(load(withApi('baseUrl: http://api.example.com\n  allowPlaintext: true'))),
    ).not.toThrow();
  });

  it('accepts a readable PEM CA certificate', () => {
    const pem = readFileSync(
      join(import.meta.dirname, '../../integration/api/fixtures/proxy-ca.pem'),
      'utf8',
    );
    expect(() => checkConfigFiles(load(withCa({ 'ca.pem': pem })))).not.toThrow();
  });
});
