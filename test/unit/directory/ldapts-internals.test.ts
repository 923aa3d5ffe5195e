import { readFileSync } from 'node:fs';
import { Client } from 'ldapts';
import { describe, expect, it } from 'vitest';
import {
  installedLdaptsVersion,
  internalsProblems,
  SUPPORTED_LDAPTS_VERSION,
  unsupportedLdapts,
} from '../../../src/directory/ldap/ldapts-internals.js';
import { DirectoryError } from '../../../src/errors.js';

const json = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

describe('the ldapts pin', () => {
  it('package.json pins exactly the version the adapter supports', () => {
    const dependencies = json('package.json').dependencies as Record<string, string>;

    expect(dependencies.ldapts).toBe(SUPPORTED_LDAPTS_VERSION);
  });

  it('package-lock.json agrees with the pin', () => {
    const packages = json('package-lock.json').packages as Record<
      string,
      { version?: string; dependencies?: Record<string, string> }
    >;

    expect(packages['']?.dependencies?.ldapts).toBe(SUPPORTED_LDAPTS_VERSION);
    expect(packages['node_modules/ldapts']?.version).toBe(SUPPORTED_LDAPTS_VERSION);
  });
});

describe('the installed ldapts', () => {
  it("is found by its package.json (ldapts' exports do not expose it)", () => {
    const installed = json('node_modules/ldapts/package.json').version;

    expect(installedLdaptsVersion()).toBe(installed);
  });

  it('has every internal the adapter needs, with the expected shape', () => {
    expect(internalsProblems(new Client({ url: 'ldap://127.0.0.1:1' }))).toEqual([]);
  });
});

describe('unsupportedLdapts', () => {
  it('names what changed, the version found and the version supported, with how to fix it', () => {
    const error = unsupportedLdapts(['Client._send is missing']);

    expect(error).toBeInstanceOf(DirectoryError);
    expect(error.message).toContain('(Client._send is missing)');
    expect(error.message).toContain(`ldapts ${installedLdaptsVersion()} is installed`);
    expect(error.message).toContain(`ldapts ${SUPPORTED_LDAPTS_VERSION}`);
    expect(error.hint).toMatch(/^reinstall dirsync's dependencies with npm ci/);
  });
});
