import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../../src/config/load.js';

export const ROOT = resolve(import.meta.dirname, '../../..');

export const readRepoFile = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** The JSON Schema exactly as `dirsync config schema` prints it. */
export { configSchemaText } from '../../../src/config/json-schema.js';

/** A node of the generated JSON Schema: only the parts these tests walk. */
export interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  items?: SchemaNode;
  default?: unknown;
}

/**
 * Every key path of the schema (`source.tls.caFile`), each with the schema nodes found there:
 * a path inside `source` may exist in both the ldap and the ldif option.
 */
export function schemaKeyPaths(schema: SchemaNode): Map<string, SchemaNode[]> {
  const paths = new Map<string, SchemaNode[]>();
  const walk = (node: SchemaNode, prefix: string): void => {
    for (const option of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) walk(option, prefix);
    if (node.items !== undefined) walk(node.items, prefix);
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      paths.set(path, [...(paths.get(path) ?? []), child]);
      walk(child, path);
    }
  };
  walk(schema, '');
  return paths;
}

export { annotatedKeyLines, type KeyLine } from '../../../src/config/json-schema.js';

/** Every property name anywhere in the schema. */
export function schemaKeyNames(schema: SchemaNode): Set<string> {
  return new Set([...schemaKeyPaths(schema).keys()].map((p) => p.split('.').at(-1)!));
}

/** `${NAME}` references in the lines of a YAML text that are not comments. */
export function envReferences(text: string): string[] {
  const active = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
  return [...active.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
}

export interface LoadedCopy {
  loaded: LoadedConfig;
  dir: string;
  /** The secret values written, by the original absolute path the config names. */
  secrets: Map<string, string>;
}

/**
 * Loads a config text the way dirsync would, from a temp copy: the absolute secret files it
 * names under `secretsDir` (e.g. /run/secrets/dirsync) are created in the temp dir instead, and
 * every `${ENV}` it references is set.
 */
export function loadConfigCopy(text: string, secretsDir: string): LoadedCopy {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-packaging-'));
  const secrets = new Map<string, string>();
  const rewritten = text.replace(
    new RegExp(`${secretsDir.replace(/[/.]/g, '\\$&')}/([A-Za-z0-9._-]+)`, 'g'),
    (original, name: string) => {
      const copy = join(dir, 'secrets', name);
      mkdirSync(dirname(copy), { recursive: true });
      const value = `secret-${name}`;
      writeFileSync(copy, `${value}\n`, { mode: 0o600 });
      secrets.set(original, value);
      return copy;
    },
  );
  const path = join(dir, 'config.yaml');
  writeFileSync(path, rewritten);
  const env = Object.fromEntries(envReferences(text).map((name) => [name, `env-${name}`]));
  return { loaded: loadConfig(path, env), dir, secrets };
}
