import { DirectoryError } from '../../errors.js';
import type { RawEntry } from '../model.js';

/**
 * RFC 2849 LDIF content records: comments, folded lines, `::` base64 values, blank lines
 * between records. Change records other than `changetype: add` are refused: an export holds
 * content, and silently skipping a modify or delete would misread the directory.
 * `binaryAttributes` (lower-case) keep their base64 values as bytes.
 */
export function parseLdif(
  text: string,
  source: string,
  binaryAttributes: readonly string[] = [],
): RawEntry[] {
  const binary = new Set(binaryAttributes.map((a) => a.toLowerCase()));
  const entries: RawEntry[] = [];
  const rawLines = text.split(/\r?\n/);

  // Unfold: a line starting with one space continues the previous one.
  const lines: { text: string; line: number; comment: boolean }[] = [];
  rawLines.forEach((raw, i) => {
    const last = lines[lines.length - 1];
    if (raw.startsWith(' ') && last !== undefined && last.text !== '') {
      last.text += raw.slice(1);
    } else {
      lines.push({ text: raw, line: i + 1, comment: raw.startsWith('#') });
    }
  });

  let current: RawEntry | undefined;
  const fail = (line: number, message: string): never => {
    throw new DirectoryError(`LDIF file ${source}, line ${line}: ${message}`, {
      hint: `fix or re-export ${source}; it must be RFC 2849 LDIF content (ldapsearch -LLL, ldifde -f)`,
    });
  };

  for (const { text: l, line, comment } of lines) {
    if (comment) continue;
    if (l.trim() === '') {
      if (current !== undefined) entries.push(current);
      current = undefined;
      continue;
    }
    const colon = l.indexOf(':');
    if (colon <= 0)
      fail(line, `expected "attribute: value", got ${JSON.stringify(l.slice(0, 60))}`);
    const name = l.slice(0, colon).trim();
    let rest = l.slice(colon + 1);
    let value: string | Buffer;
    if (rest.startsWith(':')) {
      rest = rest.slice(1).trim();
      if (!/^[A-Za-z0-9+/=]*$/.test(rest))
        fail(line, `the base64 value of ${name} is not valid base64`);
      const bytes = Buffer.from(rest, 'base64');
      value = binary.has(name.toLowerCase()) ? bytes : bytes.toString('utf8');
    } else if (rest.startsWith('<')) {
      value = fail(
        line,
        `${name} refers to an external file (${rest.slice(1).trim()}); inline the value instead`,
      );
    } else {
      value = rest.replace(/^ +/, '');
    }
    const key = name.toLowerCase();
    if (current === undefined) {
      if (key === 'version') continue;
      if (key !== 'dn') fail(line, `a record must start with dn:, got ${name}:`);
      current = {
        dn: typeof value === 'string' ? value : value.toString('utf8'),
        attributes: new Map(),
      };
      continue;
    }
    if (key === 'changetype') {
      if (String(value).trim().toLowerCase() !== 'add')
        fail(
          line,
          `changetype: ${String(value)} records are not content; export the directory instead`,
        );
      continue;
    }
    if (key === 'control') fail(line, 'control: lines belong to change records, not content');
    let list = current.attributes.get(key);
    if (list === undefined) {
      list = [];
      current.attributes.set(key, list);
    }
    list.push(value);
  }
  if (current !== undefined) entries.push(current);
  return entries;
}
