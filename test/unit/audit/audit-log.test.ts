import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuditLog,
  auditDir,
  pruneAudit,
  readAudit,
  type AuditEntry,
} from '../../../src/audit/audit-log.js';
import { asEmailId } from '../../../src/api/ids.js';
import { actionEntry, refusedRunEntry } from '../../../src/audit/entries.js';
import { DirsyncError, SafetyError } from '../../../src/errors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function aDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-audit-'));
  dirs.push(dir);
  return join(dir, 'audit');
}

function anEntry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    time: '2026-11-30T10:00:00.000Z',
    runId: 'run1',
    kind: 'suspend',
    email: 'joe@corp.example.com',
    email_id: 1004,
    before: 'ACTIVE',
    after: 'SUSPENDED',
    reason: 'disabled in the directory',
    outcome: 'applied',
    error: null,
    ...overrides,
  };
}

const at = (iso: string) => () => new Date(iso);

describe('AuditLog', () => {
  it('appends one JSON object a line, one file per UTC day, entries around midnight in their own day', () => {
    const dir = aDir();
    const log = new AuditLog(dir, { keepDays: 400, clock: at('2026-11-30T23:59:59Z') });

    log.write([
      anEntry({ time: '2026-11-30T23:59:59.900Z', email: 'a@corp.example.com' }),
      anEntry({ time: '2026-12-01T00:00:00.100Z', email: 'b@corp.example.com' }),
    ]);
    log.write([anEntry({ time: '2026-12-01T00:00:01.000Z', email: 'c@corp.example.com' })]);
    log.close();

    expect(readdirSync(dir).sort()).toEqual(['audit-2026-11-30.jsonl', 'audit-2026-12-01.jsonl']);
    const day2 = readFileSync(join(dir, 'audit-2026-12-01.jsonl'), 'utf8').split('\n');
    expect(day2).toHaveLength(3); // two lines and the final newline
    expect(JSON.parse(day2[0]!)).toEqual(
      anEntry({ time: '2026-12-01T00:00:00.100Z', email: 'b@corp.example.com' }),
    );
    expect(readAudit(dir).entries.map((e) => e.email)).toEqual([
      'a@corp.example.com',
      'b@corp.example.com',
      'c@corp.example.com',
    ]);
  });

  it('appends to what earlier runs wrote, never rewriting it', () => {
    const dir = aDir();
    const first = new AuditLog(dir, { keepDays: 400, clock: at('2026-11-30T10:00:00Z') });
    first.write([anEntry({ runId: 'run1' })]);
    first.close();
    const before = readFileSync(join(dir, 'audit-2026-11-30.jsonl'), 'utf8');

    const second = new AuditLog(dir, { keepDays: 400, clock: at('2026-11-30T11:00:00Z') });
    second.write([anEntry({ runId: 'run2', time: '2026-11-30T11:00:00.000Z' })]);
    second.close();

    const after = readFileSync(join(dir, 'audit-2026-11-30.jsonl'), 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(readAudit(dir).entries.map((e) => e.runId)).toEqual(['run1', 'run2']);
  });

  it('skips a line torn by a crash when reading, and starts the next append on a line of its own', () => {
    const dir = aDir();
    const log = new AuditLog(dir, { keepDays: 400, clock: at('2026-11-30T10:00:00Z') });
    log.write([anEntry({ runId: 'before-crash' })]);
    log.close();
    const file = join(dir, 'audit-2026-11-30.jsonl');
    appendFileSync(file, '{"time":"2026-11-30T10:00:01.000Z","runId":"torn","ki');

    const torn = readAudit(dir);
    expect(torn.entries.map((e) => e.runId)).toEqual(['before-crash']);
    expect(torn.skipped).toEqual([{ file, line: 2 }]);

    const next = new AuditLog(dir, { keepDays: 400, clock: at('2026-11-30T10:05:00Z') });
    next.write([anEntry({ runId: 'after-crash', time: '2026-11-30T10:05:00.000Z' })]);
    next.close();

    const read = readAudit(dir);
    expect(read.entries.map((e) => e.runId)).toEqual(['before-crash', 'after-crash']);
    expect(read.skipped).toEqual([{ file, line: 2 }]);
  });

  it('deletes the files of days older than keepDays when it opens, however few runs they hold', () => {
    const dir = aDir();
    mkdirSync(dir, { recursive: true });
    for (const day of ['2025-10-25', '2025-10-26', '2025-10-27', '2026-11-29'])
      writeFileSync(
        join(dir, `audit-${day}.jsonl`),
        JSON.stringify(anEntry({ time: `${day}T12:00:00.000Z` })) + '\n',
      );
    writeFileSync(join(dir, 'notes.txt'), 'not an audit file');
    const log = new AuditLog(dir, { keepDays: 400, clock: at('2026-11-30T10:00:00Z') });

    log.open();
    log.close();

    // 400 days before 2026-11-30 is 2025-10-26: that day and later are kept.
    expect(readdirSync(dir).sort()).toEqual([
      'audit-2025-10-26.jsonl',
      'audit-2025-10-27.jsonl',
      'audit-2026-11-29.jsonl',
      'audit-2026-11-30.jsonl',
      'notes.txt',
    ]);
  });

  it('keeps every file inside keepDays, however many runs wrote them (by age, never by count)', () => {
    const dir = aDir();
    const log = new AuditLog(dir, { keepDays: 400, clock: at('2026-11-30T10:00:00Z') });
    const entries = Array.from({ length: 500 }, (_, i) =>
      anEntry({ runId: `run${i}`, time: new Date(Date.UTC(2026, 10, 30, 0, 0, i)).toISOString() }),
    );

    log.write(entries);
    log.close();

    expect(pruneAudit(dir, 400, new Date('2026-11-30T10:00:00Z'))).toEqual([]);
    expect(readAudit(dir).entries).toHaveLength(500);
  });

  it('fails before a run when the folder cannot be written, naming it and audit.path', () => {
    const base = aDir();
    mkdirSync(join(base, '..'), { recursive: true });
    writeFileSync(base, 'a file where the folder should be');
    const log = new AuditLog(join(base, 'audit'), { keepDays: 400 });

    let caught: unknown;
    try {
      log.open();
    } catch (error) {
      caught = error;
    }

    expect(caught).toBeInstanceOf(DirsyncError);
    expect((caught as DirsyncError).message).toContain(join(base, 'audit'));
    expect((caught as DirsyncError).hint).toContain('audit.path');
  });

  it('fails at once, naming audit.path, for a folder under /proc (where a recursive mkdir spins)', () => {
    const log = new AuditLog('/proc/dirsync-audit/audit', { keepDays: 400 });

    let caught: unknown;
    try {
      log.open();
    } catch (error) {
      caught = error;
    }

    expect(caught).toBeInstanceOf(DirsyncError);
    expect((caught as DirsyncError).message).toContain('/proc/dirsync-audit/audit');
    expect((caught as DirsyncError).message).not.toContain('(error)');
    expect((caught as DirsyncError).hint).toContain('audit.path');
  });

  it('lives beside the state record unless audit.path is set', () => {
    expect(auditDir({ audit: {}, state: { path: '/var/lib/dirsync/dirsync.json' } })).toBe(
      '/var/lib/dirsync/audit',
    );
    expect(
      auditDir({
        audit: { path: '/var/log/dirsync' },
        state: { path: '/x/y.json' },
      }),
    ).toBe('/var/log/dirsync');
  });
});

describe('readAudit', () => {
  function seeded(): string {
    const dir = aDir();
    const log = new AuditLog(dir, { keepDays: 400, clock: at('2026-11-30T10:00:00Z') });
    log.write([
      anEntry({ time: '2026-11-20T08:00:00.000Z', email: 'Joe@Corp.Example.com', email_id: 7 }),
      anEntry({ time: '2026-11-25T08:00:00.000Z', email: 'ann@corp.example.com', email_id: 8 }),
      anEntry({ time: '2026-11-29T08:00:00.000Z', email: 'joe@corp.example.com', email_id: 7 }),
    ]);
    log.close();
    return dir;
  }

  it('filters by email whatever its case, or by email_id, oldest first', () => {
    const dir = seeded();

    const byEmail = readAudit(dir, { user: 'JOE@corp.example.com' }).entries;
    const byId = readAudit(dir, { user: '7' }).entries;

    expect(byEmail.map((e) => e.time)).toEqual([
      '2026-11-20T08:00:00.000Z',
      '2026-11-29T08:00:00.000Z',
    ]);
    expect(byId).toEqual(byEmail);
  });

  it('filters by time', () => {
    const dir = seeded();

    const recent = readAudit(dir, { since: new Date('2026-11-25T08:00:00.000Z') }).entries;

    expect(recent.map((e) => e.email)).toEqual(['ann@corp.example.com', 'joe@corp.example.com']);
  });

  it('reads a folder that does not exist as an empty log', () => {
    expect(readAudit(join(aDir(), 'nothing'))).toEqual({ entries: [], skipped: [] });
    expect(existsSync(join(aDir(), 'nothing'))).toBe(false);
  });
});

describe('audit entries', () => {
  it('keeps any outcome string apply reports (unclear included) with the action and its error', () => {
    const entry = actionEntry(
      {
        action: {
          kind: 'suspend',
          email: 'joe@corp.example.com',
          emailId: asEmailId(7),
          before: 'ACTIVE',
          after: 'SUSPENDED',
          reason: 'disabled',
        },
        outcome: 'unclear',
        error: 'no answer; the status still reads ACTIVE',
      },
      'run9',
      new Date('2026-11-30T10:00:00Z'),
    );

    expect(entry).toEqual({
      time: '2026-11-30T10:00:00.000Z',
      runId: 'run9',
      kind: 'suspend',
      email: 'joe@corp.example.com',
      email_id: 7,
      before: 'ACTIVE',
      after: 'SUSPENDED',
      reason: 'disabled',
      outcome: 'unclear',
      error: 'no answer; the status still reads ACTIVE',
    });
  });

  it('writes a refused run as one run line with its rails and their messages', () => {
    // The rails come from the error's structure, not from its message text.
    const error = new SafetyError('safety rails refused the plan:\n(details in the report)', {
      refusals: [
        { rail: 'protectedUsers', message: 'would suspend protected user a@x' },
        { rail: 'lastSuper', message: 'no SUPER would be left' },
      ],
    });

    const entry = refusedRunEntry(error, 'run3', new Date('2026-11-30T10:00:00Z'));

    expect(entry).toMatchObject({
      kind: 'run',
      email: '',
      email_id: null,
      outcome: 'refused',
      reason: 'safety rails refused the plan',
      rails: [
        { rail: 'protectedUsers', message: 'would suspend protected user a@x' },
        { rail: 'lastSuper', message: 'no SUPER would be left' },
      ],
    });
  });
});
