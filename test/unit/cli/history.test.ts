import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../../src/audit/audit-log.js';
import { formatEntry, parseSince } from '../../../src/cli/history.js';
import { ConfigError } from '../../../src/errors.js';

const NOW = new Date('2026-11-30T12:00:00.000Z');

function anEntry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    time: '2026-11-30T10:01:02.345Z',
    runId: 'ab12cd34',
    kind: 'set_smartcards',
    email: 'joe@corp.example.com',
    email_id: 1004,
    before: ['123'],
    after: ['123', '456'],
    reason: 'cards from employeeNumber',
    outcome: 'applied',
    error: null,
    ...overrides,
  };
}

describe('history --since', () => {
  it.each([
    ['7d', '2026-11-23T12:00:00.000Z'],
    ['12h', '2026-11-30T00:00:00.000Z'],
    ['30m', '2026-11-30T11:30:00.000Z'],
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T08:30:00Z', '2026-11-01T08:30:00.000Z'],
    ['2026-11-01T08:30:00+02:00', '2026-11-01T06:30:00.000Z'],
  ])('reads %s', (value, expected) => {
    expect(parseSince(value, NOW).toISOString()).toBe(expected);
  });

  it.each(['yesterday', '7 days', '2026-13-01', '2026-02-30', '-1d'])(
    'refuses %s as a usage error with a To fix hint',
    (value) => {
      expect(() => parseSince(value, NOW)).toThrow(ConfigError);
      expect(() => parseSince(value, NOW)).toThrow(/neither a duration nor a date/);
    },
  );
});

describe('history lines', () => {
  it('shows time, outcome, kind, email, before -> after and the reason', () => {
    expect(formatEntry(anEntry())).toBe(
      '2026-11-30 10:01:02Z  applied   set_smartcards         joe@corp.example.com  [123] -> [123, 456]  cards from employeeNumber  [run ab12cd34]',
    );
  });

  it('shows why an action failed, and a missing value as (none)', () => {
    const line = formatEntry(
      anEntry({
        kind: 'set_rank',
        before: null,
        after: 'ADMIN',
        outcome: 'failed',
        error: 'HTTP 403',
        reason: 'member of IT-Admins',
      }),
    );

    expect(line).toContain('failed    set_rank');
    expect(line).toContain('(none) -> ADMIN  HTTP 403 (planned: member of IT-Admins)');
  });

  it('shows a refused run with its rails', () => {
    const line = formatEntry(
      anEntry({
        kind: 'run',
        email: '',
        email_id: null,
        before: null,
        after: null,
        outcome: 'refused',
        reason: 'safety rails refused the plan',
        error: 'protectedUsers: would suspend a protected user',
      }),
    );

    expect(line).toBe(
      '2026-11-30 10:01:02Z  refused   run                    -  protectedUsers: would suspend a protected user  [run ab12cd34]',
    );
  });

  it('escapes control characters from directory values, so a value cannot forge a line', () => {
    const line = formatEntry(
      anEntry({ after: ['x\n2026-11-30 00:00:00Z  applied', '\u001b[31mred'] }),
    );

    expect(line).not.toContain('\n');
    expect(line).not.toContain('\u001b');
    expect(line).toContain('x\\n2026-11-30');
    expect(line).toContain('\\u001b[31mred');
  });
});
