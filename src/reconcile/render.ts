import type { ActionKind, Plan } from './model.js';

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

const SUMMARY: [ActionKind, string][] = [
  ['promote_guest', 'to promote'],
  ['unsuspend', 'to unsuspend'],
  ['set_computer_usernames', 'username changes'],
  ['set_smartcards', 'smart card changes'],
  ['set_rank', 'rank changes'],
  ['suspend', 'to suspend'],
  ['remove', 'to remove'],
];

function show(value: unknown): string {
  if (value === null || value === undefined) return '(unknown)';
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

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

export function renderPlan(plan: Plan, options: RenderOptions = {}): string {
  const paint = (code: string, text: string): string =>
    options.color === true ? `${code}${text}${RESET}` : text;
  const lines: string[] = [];
  const s = plan.summary;
  const users = new Set(plan.actions.map((a) => a.email));
  lines.push(
    `dirsync plan: ${plan.actions.length} actions for ${users.size} users ` +
      `(directory ${s.directoryUsers} users; organization ${s.organizationUsers}, ${s.managedUsers} in scope, ${s.matched} matched)`,
  );
  let current: string | undefined;
  for (const a of plan.actions) {
    if (a.email !== current) {
      current = a.email;
      lines.push('', `  ${a.email}`);
    }
    const change =
      a.kind === 'remove' || a.kind === 'promote_guest' || a.kind.endsWith('suspend')
        ? ''
        : `: ${show(a.before)} -> ${show(a.after)}`;
    const symbol = SYMBOL[a.kind];
    lines.push(
      `    ${paint(COLOR[symbol] ?? '', `${symbol} ${LABEL[a.kind]}${change}`)}    ${paint(DIM, `# ${a.reason}`)}`,
    );
  }
  if (plan.notInOrganization.length > 0) {
    lines.push(
      '',
      `In the directory but not in the organization (this API cannot create users): ${plan.notInOrganization.length}`,
    );
    for (const u of plan.notInOrganization.slice(0, 20)) lines.push(`    ${u.email}  ${u.dn}`);
    if (plan.notInOrganization.length > 20)
      lines.push(`    ... and ${plan.notInOrganization.length - 20} more (--json lists all)`);
  }
  if (plan.ambiguous.length > 0) {
    lines.push('', `Ambiguous matches, left alone: ${plan.ambiguous.length}`);
    for (const a of plan.ambiguous.slice(0, 20)) lines.push(`    ${a.email}: ${a.dns.join(' | ')}`);
  }
  if (plan.notes.length > 0) {
    lines.push('', `Notes: ${plan.notes.length}`);
    for (const n of plan.notes.slice(0, 20)) lines.push(`    ${n.email}: ${n.message}`);
    if (plan.notes.length > 20)
      lines.push(`    ... and ${plan.notes.length - 20} more (--json lists all)`);
  }
  const parts = SUMMARY.map(([kind, label]) => `${s.actions[kind] ?? 0} ${label}`);
  lines.push(
    '',
    plan.actions.length === 0
      ? 'No changes. The organization matches the directory.'
      : `Plan: ${parts.join(', ')}.`,
  );
  return lines.join('\n') + '\n';
}
