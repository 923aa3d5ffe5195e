import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { Config } from './schema.js';

/**
 * The JSON Schema of the config file (`dirsync config schema`, committed as config/schema.json)
 * with a `description` on every key, for editor hovers. The descriptions are the comments of
 * config/example.yaml, which documents every key (active or commented out): one text, so the
 * hovers and the annotated example never disagree.
 */

/** config/example.yaml, beside dist/ and src/ alike (the package ships config/). */
export const EXAMPLE_CONFIG = resolve(import.meta.dirname, '../../config/example.yaml');

/** A node of the generated JSON Schema: only the parts walked here. */
interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  items?: SchemaNode;
  const?: unknown;
  description?: string;
}

const KEY = /^(\s*)([A-Za-z][A-Za-z0-9]*):(?:\s+(.*))?$/;

/** A key line of an annotated YAML file. */
export interface KeyLine {
  /** The full key path, `source.users.baseDns`. */
  path: string;
  /** 0-based line number in the file. */
  line: number;
  /** Whether the key is commented out (`# key: ...`). */
  commented: boolean;
  /** What follows the colon on that line, if anything. */
  value: string | undefined;
}

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
    result.push({
      path: stack.map((s) => s.key).join('.'),
      line,
      commented: comment !== null,
      value: match[3],
    });
  });
  return result;
}

/**
 * The comment above each key of an annotated YAML file (see annotatedKeyLines), by key path. A
 * path inside a `source:` block is also stored under its source type (`ldif|source.file`), since
 * the ldap and ldif blocks share key names.
 */
export function keyComments(text: string, known: ReadonlySet<string>): Map<string, string> {
  const lines = text.split('\n');
  const comments = new Map<string, string>();
  const found = annotatedKeyLines(text, known);
  const keyLines = new Set(found.map((k) => k.line));
  let variant: string | undefined;
  for (const { path, line, value } of found) {
    if (!path.includes('.')) variant = undefined;
    if (path === 'source.type') variant = value?.trim();
    const prose: string[] = [];
    for (let i = line - 1; i >= 0; i--) {
      const l = lines[i]!;
      if (!/^\s*#/.test(l) || keyLines.has(i) || /^\s*#\s*-( |$)/.test(l)) break;
      prose.unshift(l.replace(/^\s*#\s*(#\s*)?/, '').trim());
    }
    const text = prose.filter((p) => p !== '').join(' ');
    if (text === '') continue;
    if (variant !== undefined && !comments.has(`${variant}|${path}`))
      comments.set(`${variant}|${path}`, text);
    if (!comments.has(path)) comments.set(path, text);
  }
  return comments;
}

function keyNames(node: SchemaNode, into = new Set<string>()): Set<string> {
  for (const option of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) keyNames(option, into);
  if (node.items !== undefined) keyNames(node.items, into);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    into.add(key);
    keyNames(child, into);
  }
  return into;
}

/** Sets `description` on every property of `schema` that `comments` explains. */
function describe(
  node: SchemaNode,
  comments: ReadonlyMap<string, string>,
  prefix: string,
  variant: string | undefined,
): void {
  for (const option of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) {
    const type = option.properties?.['type']?.const;
    describe(option, comments, prefix, typeof type === 'string' ? type : variant);
  }
  if (node.items !== undefined) describe(node.items, comments, prefix, variant);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const text =
      (variant === undefined ? undefined : comments.get(`${variant}|${path}`)) ??
      comments.get(path);
    if (text !== undefined && child.description === undefined) child.description = text;
    describe(child, comments, path, variant);
  }
}

/** The config's JSON Schema, each key described by its comment in `exampleText`. */
export function configJsonSchema(exampleText: string): Record<string, unknown> {
  const schema = z.toJSONSchema(Config, { io: 'input' }) as SchemaNode & Record<string, unknown>;
  describe(schema, keyComments(exampleText, keyNames(schema)), '', undefined);
  return schema;
}

/** `dirsync config schema`'s output: {@link configJsonSchema} of config/example.yaml. */
export function configSchemaText(example: string = EXAMPLE_CONFIG): string {
  return JSON.stringify(configJsonSchema(readFileSync(example, 'utf8')), null, 2) + '\n';
}
