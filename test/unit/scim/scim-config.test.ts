import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configErrorOf } from '../../support/errors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function aConfigFile(yaml: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-scim-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const path = join(dir, 'dirsync.yaml');
  writeFileSync(path, yaml);
  return path;
}

const scimConfig = (scim: string, ranks = '[IT Admins, Helpdesk]'): string => `source:
  type: scim
${scim}
api:
  baseUrl: https://api.example.com
  token: api-token
rules:
  scope:
    emailDomains: [corp.example.com]
  ranks:
    ADMIN: ${ranks}
`;

describe('the scim: config section', () => {
  it('loads with tokens from files (several, for rotation), paths relative to the config, and the defaults', () => {
    const path = aConfigFile(
      scimConfig(
        'scim:\n  tokenFiles: [old-token, new-token]\n  store: { path: ./data/scim.sqlite }',
      ),
      { 'old-token': 'old-token-0123456789abcdef\n', 'new-token': 'new-token-0123456789abcdef' },
    );

    const { config, secrets } = loadConfig(path, {});

    expect(secrets.scimTokens).toEqual([
      'old-token-0123456789abcdef',
      'new-token-0123456789abcdef',
    ]);
    expect(config.scim).toMatchObject({
      port: 9465,
      basePath: '/scim/v2',
      debounce: '10s',
      maxDelay: '2m',
      store: { path: join(path, '..', 'data/scim.sqlite') },
      attributes: {
        email: ['emails[type eq "work"].value', 'emails[primary eq true].value', 'userName'],
      },
    });
    // Group display names, not DNs: a flow list of plain names is fine for this source.
    expect(config.rules.ranks.ADMIN).toEqual(['IT Admins', 'Helpdesk']);
  });

  it('wants a token for source.type scim', () => {
    const error = configErrorOf(() => loadConfig(aConfigFile(scimConfig('scim: {}')), {}));

    expect(error.message).toContain('source.type scim needs a SCIM bearer token');
    expect(error.hint).toContain('scim.tokenFiles');
  });

  it('wants the scim: section for source.type scim', () => {
    const error = configErrorOf(() => loadConfig(aConfigFile(scimConfig('')), {}));

    expect(error.message).toContain('scim: source.type scim needs a scim: section');
  });

  it('refuses a short token without showing it', () => {
    const error = configErrorOf(() =>
      loadConfig(aConfigFile(scimConfig('scim:\n  tokens: [s3cret]')), {}),
    );

    expect(error.message).toContain(
      'scim.tokens[0] (line 4): a SCIM token needs at least 16 characters',
    );
    expect(error.message).not.toContain('s3cret');
  });

  it('still refuses DNs split by a YAML flow list for an ldap source', () => {
    const yaml = scimConfig('', '[CN=Admins,OU=Groups,DC=corp]').replace(
      'source:\n  type: scim\n',
      'source:\n  type: ldif\n  file: ./dir.ldif\n',
    );

    const error = configErrorOf(() => loadConfig(aConfigFile(yaml), {}));

    expect(error.message).toContain(
      'rules.ranks.ADMIN (line 12): these look like pieces of DNs split at their commas',
    );
  });
});
