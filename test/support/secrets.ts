import { inspect } from 'node:util';
import { DirsyncError, describeError } from '../../src/errors.js';

/** Every way an error reaches a person: message, hint, causes, JSON, inspect. */
export function everythingAbout(error: unknown): string {
  return [
    String(error),
    describeError(error),
    JSON.stringify(error),
    inspect(error, { depth: 10, showHidden: true }),
    error instanceof DirsyncError ? (error.hint ?? '') : '',
  ].join('\n');
}

/** The pieces of `secret`, at least 4 characters long, that show in `text`. */
export function leakedPieces(text: string, secret: string): string[] {
  const found: string[] = [];
  for (let len = 4; len <= secret.length; len++)
    for (let i = 0; i + len <= secret.length; i++)
      if (text.includes(secret.slice(i, i + len))) found.push(secret.slice(i, i + len));
  return found;
}
