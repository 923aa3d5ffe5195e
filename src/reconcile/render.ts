import { CONSEQUENCE } from '../directory/model.js';
import { escapeControl, plural } from '../text.js';
import type { Action, ActionKind, Plan } from './model.js';

const SYMBOL: Record<ActionKind, string> = {
  promote_guest: '+',
  unsuspend: '+',
  set_computer_usernames: '~',
  set_smartcards: '~',
  set_rank: '~',
  suspend: '!',
  remove: '-',
};

const LABEL: Record<ActionKind, string> = {
  promote_guest: 'promote guest',
  unsuspend: 'unsuspend',
  set_computer_usernames: 'computer usernames',
  set_smartcards: 'smart cards',
  set_rank: 'rank',
  suspend: 'suspend',
  remove: 'remove',
};

/** Each kind in the summary line: its label for one action, and for any other count. */
const SUMMARY: [ActionKind, string, string][] = [
  ['promote_guest', 'to promote', 'to promote'],
  ['unsuspend', 'to unsuspend', 'to unsuspend'],
  ['set_computer_usernames', 'username change', 'username changes'],
  ['set_smartcards', 'smart card change', 'smart card changes'],
  ['set_rank', 'rank change', 'rank changes'],
  ['suspend', 'to suspend', 'to suspend'],
  ['remove', 'to remove', 'to remove'],
];

/** Directory or API text on one line: ESC, newlines and other controls as visible escapes. */
export function printable(text: string): string {
  return escapeControl(text);
}

// JSON.stringify escapes C0 controls but lets DEL, C1 controls and bidi overrides through.
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON for a terminal or a pipe: the characters `JSON.stringify` leaves raw written as `\uXXXX`
 * (they can only sit inside strings, where that means the same: it parses to the same value).
 */
export function jsonText(value: unknown, space?: number): string {
  const text = JSON.stringify(value, null, space);
  JSON_UNSAFE.lastIndex = 0;
  return JSON_UNSAFE.test(text)
    ? text.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : text;
}

/** A before/after value on one line (values come from the directory and the API). */
function show(value: Action['before'] | Action['after']): string {
  if (value === null) return '(unknown)';
  if (Array.isArray(value)) return `[${value.map(printable).join(', ')}]`;
  return printable(value);
}

/** How many lines of each list the plan shows; `--json` lists all. */
const SHOWN = 20;

/** The plan for a person, like a terraform plan: grouped by user, +/~/!/-, a summary line. */
export interface RenderOptions {
  /** ANSI colours: only on a terminal, and never when NO_COLOR is set. */
  color?: boolean;
}

const COLOR: Record<string, string> = {
  '+': '\x1b[32m',
  '~': '\x1b[33m',
  '!': '\x1b[35m',
  '-': '\x1b[31m',
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** Whether output to `stream` may be coloured: a TTY, and NO_COLOR unset or empty (no-color.org). */
export function useColor(
  stream: NodeJS.WritableStream,
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  const tty = 'isTTY' in stream && stream.isTTY === true;
  return tty && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '');
}

/**
 * Every value printed here (emails, DNs, reasons, notes) may come from the directory or the
 * API: each goes through `printable`, so ESC or a newline shows as `\x1b` or `\n` and can
 * neither repaint the terminal nor forge a line of the plan.
 */
export function renderPlan(plan: Plan, options: RenderOptions = {}): string {
  const paint = (code: string, text: string): string =>
    options.color === true ? `${code}${text}${RESET}` : text;
  const lines: string[] = [];
  const s = plan.summary;
  const users = new Set(plan.actions.map((a) => a.email));
  lines.push(
    `dirsync plan: ${plural(plan.actions.length, 'action')} for ${plural(users.size, 'user')} ` +
      `(directory: ${plural(s.directoryUsers, 'user')}; organization: ${plural(s.organizationUsers, 'user')}, ${s.managedUsers} in scope, ${s.matched} matched)`,
  );
  let current: string | undefined;
  for (const a of plan.actions) {
    if (a.email !== current) {
      current = a.email;
      lines.push('', `  ${printable(a.email)}`);
    }
    const change =
      a.kind === 'set_computer_usernames' || a.kind === 'set_smartcards' || a.kind === 'set_rank'
        ? `: ${show(a.before)} -> ${show(a.after)}`
        : '';
    const symbol = SYMBOL[a.kind];
    lines.push(
      `    ${paint(COLOR[symbol] ?? '', `${symbol} ${LABEL[a.kind]}${change}`)}    ${paint(DIM, `# ${printable(a.reason)}`)}`,
    );
  }
  if (plan.notInOrganization.length > 0) {
    lines.push(
      '',
      `In the directory but not in the organization (this API cannot create users): ${plan.notInOrganization.length}`,
    );
    for (const u of plan.notInOrganization.slice(0, SHOWN))
      lines.push(`    ${printable(u.email)}  ${printable(u.dn)}`);
    if (plan.notInOrganization.length > SHOWN)
      lines.push(`    ... and ${plan.notInOrganization.length - SHOWN} more (--json lists all)`);
  }
  if (plan.ambiguous.length > 0) {
    lines.push('', `Ambiguous matches, left alone: ${plan.ambiguous.length}`);
    for (const a of plan.ambiguous.slice(0, SHOWN))
      lines.push(`    ${printable(a.email)}: ${a.dns.map(printable).join(' | ')}`);
  }
  if (plan.notes.length > 0) {
    lines.push('', `Notes: ${plan.notes.length}`);
    for (const n of plan.notes.slice(0, SHOWN))
      lines.push(
        `    ${printable(n.group === undefined ? n.email : `group ${n.group}`)}: ${printable(n.message)}`,
      );
    if (plan.notes.length > SHOWN)
      lines.push(`    ... and ${plan.notes.length - SHOWN} more (--json lists all)`);
  }
  const problems = plan.problems ?? [];
  if (problems.length > 0) {
    lines.push('', `Directory values dirsync cannot use: ${problems.length}`);
    for (const p of problems.slice(0, SHOWN)) {
      const value = p.value === '' ? p.attribute : `${p.attribute} "${p.value}"`;
      lines.push(
        `    ${printable(p.email ?? '(no usable address)')}  ${printable(p.dn)}: ${printable(`${value} ${p.problem}; ${CONSEQUENCE[p.field] ?? 'left alone'}`)}`,
      );
    }
    if (problems.length > SHOWN)
      lines.push(`    ... and ${problems.length - SHOWN} more (--json lists all)`);
  }
  const parts = SUMMARY.map(([kind, one, many]) => plural(s.actions[kind] ?? 0, one, many));
  lines.push(
    '',
    plan.actions.length === 0
      ? 'No changes. The organization matches the directory.'
      : `Plan: ${parts.join(', ')}.`,
  );
  return lines.join('\n') + '\n';
}
