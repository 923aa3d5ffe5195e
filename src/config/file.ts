import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';

/**
 * Reads a YAML or JSON file (JSON when the name ends in `.json`, which also keeps 100k-user
 * seeds fast). `what` names the file's role in messages, e.g. "seed file".
 */
export function readStructuredFile(path: string, what: string): unknown {
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
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new ConfigError(`${what} ${path} is not valid JSON: ${(error as Error).message}`, {
        hint: `fix the JSON syntax in ${path}`,
      });
    }
  }
  const doc = parseDocument(text);
  const first = doc.errors[0];
  if (first !== undefined) {
    // With pretty errors the first line reads "<problem> at line L, column C:".
    const problem = (first.message.split('\n')[0] ?? '').replace(/:$/, '');
    throw new ConfigError(`${what} ${path} is not valid YAML: ${problem}`, {
      hint: `fix the YAML syntax in ${path}`,
    });
  }
  return doc.toJS() as unknown;
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

/** Validates `data` with `schema`; a failure names the file, each key and what is wrong. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  data: unknown,
  path: string,
  what: string,
): z.infer<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const lines = result.error.issues
    .slice(0, 10)
    .map((issue) => `  ${formatPath(issue.path)}: ${issue.message}`);
  const more =
    result.error.issues.length > 10 ? `\n  ... and ${result.error.issues.length - 10} more` : '';
  throw new ConfigError(`${what} ${path} is invalid:\n${lines.join('\n')}${more}`, {
    hint: `correct the keys named above in ${path}`,
  });
}
