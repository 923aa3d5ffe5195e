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

export interface KeyLine {
  path: string;
  /** 0-based line number in the file. */
  line: number;
  /** Whether the key is commented out (`# key: ...`). */
  commented: boolean;
}

const KEY = /^(\s*)([A-Za-z][A-Za-z0-9]*):(?:\s|$)/;

/**
 * The key lines of an annotated YAML file, active and commented out, with their full paths.
 * A commented-out key is one that becomes active by removing its "# " and nothing else, so its
 * indentation tells where it belongs. In comments, a word followed by a colon counts as a key
 * when it is in `known` or starts lower-case like every config key (so a misspelt one is
 * caught): prose such as "# Default: 8" is not a key, and prose must not start "word: ".
 */
export function annotatedKeyLines(text: string, known: ReadonlySet<string>): KeyLine[] {
  const result: KeyLine[] = [];
  const stack: { indent: number; key: string }[] = [];
  text.split('\n').forEach((raw, line) => {
    const comment = /^(\s*)# ?(.*)$/.exec(raw);
    const uncommented = comment === null ? raw : `${comment[1]}${comment[2]}`;
    const match = KEY.exec(uncommented);
    if (match === null) return;
    const indent = match[1]!.length;
    const key = match[2]!;
    if (comment !== null && !known.has(key) && !/^[a-z]/.test(key)) return;
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    stack.push({ indent, key });
    result.push({ path: stack.map((s) => s.key).join('.'), line, commented: comment !== null });
  });
  return result;
}

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
