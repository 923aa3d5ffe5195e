import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { plural } from '../text.js';

/** The line (1-based) a key path is written on in the file; undefined when unknown (JSON). */
export type LineOf = (path: readonly PropertyKey[]) => number | undefined;

/** A file's data and where each of its keys is written. */
export interface StructuredFile {
  data: unknown;
  lineOf: LineOf;
}

/**
 * Reads a YAML or JSON file (JSON when the name ends in `.json`, which also keeps 100k-user
 * seeds fast). `what` names the file's role in messages, e.g. "seed file".
 */
export function readStructuredFile(path: string, what: string): unknown {
  return readStructuredSource(path, what).data;
}

/**
 * {@link readStructuredFile}, plus the line each key is written on (YAML only), so that a
 * schema error can say where in the file to look.
 */
export function readStructuredSource(path: string, what: string): StructuredFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`${what} ${path} cannot be read (${code ?? 'unknown error'})`, {
      cause: error,
      hint: `check that ${path} exists and is readable`,
    });
  }
  if (extname(path).toLowerCase() === '.json') {
    try {
      return { data: JSON.parse(text) as unknown, lineOf: () => undefined };
    } catch (error) {
      throw new ConfigError(`${what} ${path} is not valid JSON: ${(error as Error).message}`, {
        hint: `fix the JSON syntax in ${path}`,
      });
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const first = doc.errors[0];
  if (first !== undefined) {
    // With pretty errors the first line reads "<problem> at line L, column C:".
    const problem = (first.message.split('\n')[0] ?? '').replace(/:$/, '');
    throw new ConfigError(`${what} ${path} is not valid YAML: ${problem}`, {
      hint: `fix the YAML syntax in ${path}`,
    });
  }
  return { data: doc.toJS() as unknown, lineOf: (keys) => lineIn(doc, lines, keys) };
}

/**
 * The line of the deepest key of `keys` that the document holds: a missing key is reported on
 * the line of the section it belongs in.
 */
function lineIn(
  doc: Document,
  lines: LineCounter,
  keys: readonly PropertyKey[],
): number | undefined {
  const lineAt = (range: readonly number[] | null | undefined): number | undefined =>
    range?.[0] === undefined ? undefined : lines.linePos(range[0]).line;
  let node: unknown = doc.contents;
  let line: number | undefined;
  for (const key of keys) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => String(isScalar(p.key) ? p.key.value : p.key) === String(key),
      );
      if (pair === undefined) break;
      line = lineAt(isScalar(pair.key) ? pair.key.range : undefined) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      const item: unknown = node.items[key];
      if (item === undefined) break;
      line = lineAt((item as { range?: readonly number[] }).range) ?? line;
      node = item;
    } else break;
  }
  return line;
}

/** `a.b[0].c` from a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

/** `safety.maxDeletes (line 12)`: a key path and, when known, the line it is on. */
export function formatWhere(path: readonly PropertyKey[], lineOf?: LineOf): string {
  const line = lineOf?.(path);
  return line === undefined ? formatPath(path) : `${formatPath(path)} (line ${line})`;
}

/** The value at a key path of parsed data; undefined where the path leads nowhere. */
export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'text',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value)',
  null: 'nothing (null)',
};

function typeName(value: unknown): string {
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return TYPE_NAMES[type] ?? type;
}

/**
 * A bound in words (`a number at least 1`, `at least 1 item`) for zod's `expected number to be
 * >=1`; a message the schema wrote itself is kept as it is.
 */
function bounded(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? issue.minimum : issue.maximum);
  const how =
    issue.exact === true
      ? 'exactly'
      : small
        ? issue.inclusive === false
          ? 'more than'
          : 'at least'
        : issue.inclusive === false
          ? 'less than'
          : 'at most';
  if (issue.origin === 'string') return `${how} ${plural(bound, 'character')}`;
  if (issue.origin === 'array' || issue.origin === 'set') return `${how} ${plural(bound, 'item')}`;
  return `a number ${how} ${bound}`;
}

/**
 * What is wrong at one issue's key, in the words of a config file rather than zod's: a missing
 * key is "required", a wrong type says what was expected and what was found (never the value,
 * which may be a secret).
 */
export function issueMessage(issue: z.core.$ZodIssue, data: unknown): string {
  const value = valueAt(data, issue.path);
  if (issue.code === 'invalid_union' && 'options' in issue && Array.isArray(issue.options)) {
    const options = (issue.options as unknown[]).map(String).join(', ');
    return value === undefined ? `required: one of ${options}` : `expected one of ${options}`;
  }
  if (issue.code === 'invalid_type') {
    if (value === undefined) return 'required';
    if (issue.message.startsWith('Invalid input:'))
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, found ${typeName(value)}`;
  }
  if (issue.code === 'invalid_value' && issue.message.startsWith('Invalid option:'))
    return `expected one of ${issue.values.map(String).join(', ')}`;
  if (
    (issue.code === 'too_small' && issue.message.startsWith('Too small:')) ||
    (issue.code === 'too_big' && issue.message.startsWith('Too big:'))
  )
    return `expected ${bounded(issue)}`;
  // zod's own wording starts with a category ("Too small: expected ..."): keep what follows.
  return issue.message.replace(/^(Invalid input|Too small|Too big|Invalid string): /, '');
}

/** Validates `data` with `schema`; a failure names the file, each key and what is wrong. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  data: unknown,
  path: string,
  what: string,
  lineOf?: LineOf,
): z.infer<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const lines = result.error.issues
    .slice(0, 10)
    .map((issue) => `  ${formatWhere(issue.path, lineOf)}: ${issueMessage(issue, data)}`);
  const more =
    result.error.issues.length > 10 ? `\n  ... and ${result.error.issues.length - 10} more` : '';
  throw new ConfigError(`${what} ${path} is invalid:\n${lines.join('\n')}${more}`, {
    hint: `correct the keys named above in ${path}`,
  });
}
