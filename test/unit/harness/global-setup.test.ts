import { describe, expect, it } from 'vitest';
import {
  ds389Setup,
  sambaOrSkip,
  sambaSetup,
  usesDs389,
  usesSamba,
  type QueuedFile,
  type SambaSetupInput,
} from '../../support/samba-setup.js';

// Built, not written out: this file's own text must not read as a Samba test to the global setup.
const INJECT = ['inject(', "'samba'", ')'].join('');
const INJECT_SPACED = ['inject( ', '"samba"', ' )'].join('');
const HARNESS = ['../../support/', 'samba.js'].join('');
const INJECT_DS389 = ['inject(', "'ds389'", ')'].join('');

const unit = (name: string, source = ''): QueuedFile => ({ path: `test/unit/${name}`, source });
const file = (path: string, source = ''): QueuedFile => ({ path, source });
const sambaTest = file(
  'test/integration/directory/ad-reader.test.ts',
  `const samba = ${INJECT};\ndescribe.skipIf(!samba)('AD', () => {});`,
);

function input(overrides: Partial<SambaSetupInput>): SambaSetupInput {
  return { ci: false, optedOut: false, files: [], unavailable: undefined, ...overrides };
}

describe('sambaSetup in CI (CI=true)', () => {
  it('starts Samba for a run that includes the integration or e2e suites, whatever their text says', () => {
    for (const path of ['test/integration/api/client.test.ts', 'test/e2e/sync.test.ts']) {
      const decision = sambaSetup(input({ ci: true, files: [unit('a.test.ts'), file(path)] }));

      expect(decision).toEqual({
        action: 'start',
        because: `CI=true and the run includes ${path}`,
      });
    }
  });

  it('starts Samba for a file that uses it, even among unit tests', () => {
    const decision = sambaSetup(
      input({ ci: true, files: [unit('samba-like.test.ts', `const s = ${INJECT}`)] }),
    );

    expect(decision).toEqual({
      action: 'start',
      because: 'CI=true and test/unit/samba-like.test.ts uses Samba',
    });
  });

  it('fails, naming the file and why, when the run needs Samba and it cannot run here', () => {
    const decision = sambaSetup(
      input({ ci: true, files: [sambaTest], unavailable: 'missing: samba (package samba-ad-dc)' }),
    );

    expect(decision).toEqual({
      action: 'fail',
      reason:
        'CI=true and test/integration/directory/ad-reader.test.ts uses Samba, but the Samba AD DC cannot run: missing: samba (package samba-ad-dc)',
    });
  });

  it('ignores DIRSYNC_TEST_SAMBA=0', () => {
    expect(sambaSetup(input({ ci: true, optedOut: true, files: [sambaTest] })).action).toBe(
      'start',
    );
  });

  it('leaves Samba off for a unit-test run', () => {
    const files = [unit('api/limiter.test.ts'), unit('reconcile/plan.test.ts')];

    expect(sambaSetup(input({ ci: true, files, unavailable: 'not root' }))).toEqual({
      action: 'none',
    });
  });
});

describe('sambaSetup on a developer machine', () => {
  it('starts Samba only for a run that queues a file using it', () => {
    expect(sambaSetup(input({ files: [file('test/e2e/sync.test.ts')] }))).toEqual({
      action: 'none',
    });
    expect(sambaSetup(input({ files: [sambaTest] }))).toEqual({
      action: 'start',
      because: 'test/integration/directory/ad-reader.test.ts uses Samba',
    });
  });

  it('skips with the reason where Samba cannot run, or when DIRSYNC_TEST_SAMBA=0', () => {
    expect(sambaSetup(input({ files: [sambaTest], unavailable: 'needs root' }))).toEqual({
      action: 'skip',
      reason: 'needs root',
    });
    expect(sambaSetup(input({ files: [sambaTest], optedOut: true }))).toEqual({
      action: 'skip',
      reason: 'DIRSYNC_TEST_SAMBA=0',
    });
  });
});

describe('usesSamba', () => {
  it.each([
    ['injects it', file('test/integration/x.test.ts', `const samba = ${INJECT};`)],
    ['injects it with other quotes and spaces', file('test/integration/x.test.ts', INJECT_SPACED)],
    [
      'imports the Samba harness',
      file('test/integration/x.test.ts', `import { addSambaLdif } from '${HARNESS}';`),
    ],
    ['is named after Samba', file('test/integration/directory/samba-groups.test.ts')],
  ])('a file that %s', (_name, queued) => {
    expect(usesSamba(queued)).toBe(true);
  });

  it('not a file that only mentions the word', () => {
    expect(usesSamba(file('test/integration/x.test.ts', '// unlike Samba, slapd ...'))).toBe(false);
  });
});

describe('sambaOrSkip', () => {
  it('fails in CI when the global setup provided no Samba', () => {
    expect(() => sambaOrSkip(undefined, true)).toThrow(
      /CI=true but the global setup provided no Samba/,
    );
  });

  it('lets the tests skip locally, and passes a provided Samba through', () => {
    expect(sambaOrSkip(undefined, false)).toBeUndefined();
    expect(sambaOrSkip({ url: 'ldaps://127.0.0.1' }, true)).toEqual({ url: 'ldaps://127.0.0.1' });
  });
});

describe('ds389Setup: the same rule for the 389 Directory Server', () => {
  const ds389Test = file(
    'test/integration/directory/ds389-reader.test.ts',
    `const ds = ${INJECT_DS389};`,
  );

  it('in CI starts 389-DS for a run beyond the unit tests even when no file injects it, and fails where it cannot run', () => {
    const files = [unit('a.test.ts'), file('test/e2e/sync.test.ts')];

    expect([
      ds389Setup(input({ ci: true, files })),
      ds389Setup(input({ ci: true, files: [ds389Test], unavailable: 'missing: ns-slapd' })),
      ds389Setup(input({ ci: true, optedOut: true, files: [ds389Test] })).action,
      ds389Setup(input({ ci: true, files: [unit('a.test.ts')] })),
    ]).toEqual([
      { action: 'start', because: 'CI=true and the run includes test/e2e/sync.test.ts' },
      {
        action: 'fail',
        reason:
          'CI=true and test/integration/directory/ds389-reader.test.ts uses 389-DS, but the 389 Directory Server cannot run: missing: ns-slapd',
      },
      'start',
      { action: 'none' },
    ]);
  });

  it('locally starts 389-DS only for a file that injects it, and skips with the reason', () => {
    expect([
      ds389Setup(input({ files: [file('test/e2e/sync.test.ts')] })),
      ds389Setup(input({ files: [ds389Test] })),
      ds389Setup(input({ files: [ds389Test], unavailable: 'missing: ns-slapd' })),
      ds389Setup(input({ files: [ds389Test], optedOut: true })),
    ]).toEqual([
      { action: 'none' },
      { action: 'start', because: 'test/integration/directory/ds389-reader.test.ts uses 389-DS' },
      { action: 'skip', reason: 'missing: ns-slapd' },
      { action: 'skip', reason: 'DIRSYNC_TEST_DS389=0' },
    ]);
  });

  it('reads an inject of ds389 with any quotes, not the word alone nor a Samba inject', () => {
    const source = (text: string) => usesDs389(file('test/integration/x.test.ts', text));

    expect([
      source(INJECT_DS389),
      source(['inject( ', '`ds389`', ' )'].join('')),
      source('// a 389-DS (ds389) note'),
      source(INJECT),
    ]).toEqual([true, true, false, false]);
  });
});
