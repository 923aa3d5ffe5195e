import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  annotatedKeyLines,
  configSchemaText,
  loadConfigCopy,
  readRepoFile,
  schemaKeyNames,
  schemaKeyPaths,
  type SchemaNode,
} from './support.js';

const EXAMPLE = 'config/example.yaml';
const SECRETS_DIR = '/run/secrets/dirsync';
const text = readRepoFile(EXAMPLE);
const schema = JSON.parse(configSchemaText()) as SchemaNode;
const schemaPaths = schemaKeyPaths(schema);
const keyLines = annotatedKeyLines(text, schemaKeyNames(schema));
const lines = text.split('\n');

/** The commented-out `# source:` block (type: ldif), uncommented. */
function ldifAlternative(): unknown {
  const start = lines.findIndex((l) => l === '# source:');
  expect(start, `${EXAMPLE} shows the ldif source as a commented-out "# source:" block`).toBe(
    lines.findLastIndex((l) => l === '# source:'),
  );
  const block: string[] = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith('#')) break;
    block.push(line.replace(/^# ?/, ''));
  }
  return (parse(block.join('\n')) as { source: unknown }).source;
}

/** The comment lines (prose, not commented-out keys or list items) right above a line. */
function commentAbove(line: number): string {
  const prose: string[] = [];
  const keyLineNumbers = new Set(keyLines.map((k) => k.line));
  for (let i = line - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (!/^\s*#/.test(l) || keyLineNumbers.has(i) || /^\s*#\s*- /.test(l)) break;
    prose.unshift(l.replace(/^\s*# ?/, ''));
  }
  return prose.join(' ');
}

describe('config/example.yaml', () => {
  it('loads with loadConfig: an ldap source for an AD domain, secrets from files', () => {
    const { loaded, secrets } = loadConfigCopy(text, SECRETS_DIR);

    const { config } = loaded;
    expect(config.source).toMatchObject({
      type: 'ldap',
      flavor: 'ad',
      bindPasswordFile: expect.stringMatching(/ldap-bind-password$/) as unknown,
      allowPlaintextBind: false,
      tls: { rejectUnauthorized: true },
    });
    expect(config.api.tokenFile).toMatch(/api-token$/);
    expect(loaded.secrets).toEqual({
      bindPassword: secrets.get(`${SECRETS_DIR}/ldap-bind-password`),
      token: secrets.get(`${SECRETS_DIR}/api-token`),
    });
    expect(config.state.path).toBe('/var/lib/dirsync/dirsync.json');
    expect(config.server.port).toBe(9464);
  });

  it('makes the safe choices where a key is risky', () => {
    const { config } = loadConfigCopy(text, SECRETS_DIR).loaded;
    if (config.source.type !== 'ldap') throw new Error('expected the ldap source');
    expect(config.source.urls.every((u) => u.startsWith('ldaps://'))).toBe(true);
    expect(config.rules.removed.action).not.toBe('delete');
    expect(config.safety.maxDeletes).toBeLessThanOrEqual(25);
    expect(config.api.tokenOwner).toBeDefined();
  });

  it('shows the ldif source commented out, and it loads in place of the ldap one', () => {
    const data = parse(text) as Record<string, unknown>;
    data['source'] = ldifAlternative();
    // The secrets of the api section still come from files: reuse the temp-copy loader.
    const { loaded, dir } = loadConfigCopy(stringify(data), SECRETS_DIR);

    expect(loaded.config.source).toMatchObject({ type: 'ldif', file: join(dir, 'directory.ldif') });
    expect(loaded.secrets.bindPassword).toBeUndefined();
  });

  it('names every key of the JSON Schema (both source types), active or commented out', () => {
    const documented = new Set(keyLines.map((k) => k.path));

    const missing = [...schemaPaths.keys()].filter((p) => !documented.has(p));

    expect(missing, `keys of config/schema.json that ${EXAMPLE} does not show`).toEqual([]);
  });

  it('names no key the schema does not have (a typo in a commented-out key)', () => {
    const unknown = keyLines.filter((k) => !schemaPaths.has(k.path));

    expect(unknown.map((k) => `line ${k.line + 1}: ${k.path}`)).toEqual([]);
  });

  it('explains every leaf key, with its default where the schema has one', () => {
    const problems: string[] = [];
    for (const [path, nodes] of schemaPaths) {
      const isLeaf = nodes.every((n) => n.properties === undefined && n.oneOf === undefined);
      if (!isLeaf) continue;
      // A key shown twice (source keys of both types) may be explained at either place.
      const comments = keyLines.filter((k) => k.path === path).map((k) => commentAbove(k.line));
      if (comments.every((c) => c === '')) {
        problems.push(`${path} has no comment above it`);
        continue;
      }
      for (const d of nodes.filter((n) => 'default' in n).map((n) => n.default)) {
        const shown = Array.isArray(d) && d.length === 0 ? 'none' : String(d);
        if (
          !comments.some(
            (c) => c.includes(`Default: ${shown}`) || c.includes(`Default: '${shown}'`),
          )
        )
          problems.push(`${path}: no comment above it says "Default: ${shown}"`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('keeps each commented-out alternative loadable on its own line', () => {
    // A commented-out scalar key that is an alternative to an active one (bindPassword for
    // bindPasswordFile, token for tokenFile) is an error when both are set; every other
    // commented-out scalar key loads when uncommented alone.
    const exclusive = new Set(['source.bindPassword', 'api.token']);
    const failures: string[] = [];
    keyLines.forEach((k, index) => {
      if (!k.commented || exclusive.has(k.path)) return;
      // A block key (its children follow), or a key inside a commented-out block.
      if (!/:\s*\S/.test(lines[k.line]!.replace(/^\s*# ?/, ''))) return;
      const parentPath = k.path.split('.').slice(0, -1).join('.');
      const parent = keyLines.slice(0, index).findLast((p) => p.path === parentPath);
      if (parent?.commented === true) return;
      const edited = lines.map((l, i) => (i === k.line ? l.replace(/# /, '') : l)).join('\n');
      try {
        loadConfigCopy(edited, SECRETS_DIR);
      } catch (error) {
        failures.push(`line ${k.line + 1} (${k.path}): ${(error as Error).message}`);
      }
    });
    expect(failures).toEqual([]);
  });
});
