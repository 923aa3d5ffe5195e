/**
 * Whether a test run starts the Samba AD DC, or the 389 Directory Server: a pure function of the
 * run's queued files, so that the rule has a unit test (test/unit/harness/global-setup.test.ts).
 *
 * Locally a server starts only for a run that queues a file using it (a `vitest run test/unit` loop
 * saves the ~6 s Samba start) and is skipped, with a warning, where it cannot run. In CI (`CI=true`)
 * Samba and 389-DS tests cannot be skipped, whatever a test file's text says: each server starts
 * for any run that queues more than unit tests (or a file that looks like it uses that server), and
 * a run that needs it where it cannot run fails.
 */

export interface QueuedFile {
  /** Relative to the project root, with `/` separators. */
  path: string;
  source: string;
}

export interface SambaSetupInput {
  ci: boolean;
  /** `DIRSYNC_TEST_SAMBA=0`: skip Samba locally (ignored in CI). */
  optedOut: boolean;
  files: readonly QueuedFile[];
  /** Why Samba cannot run on this machine, or undefined when it can. */
  unavailable: string | undefined;
}

export type SambaSetup =
  | { action: 'none' }
  | { action: 'start'; because: string }
  | { action: 'skip'; reason: string }
  | { action: 'fail'; reason: string };

/** A file that reads the injected Samba, imports the Samba harness, or is named after Samba. */
export function usesSamba(file: QueuedFile): boolean {
  return (
    /\binject\(\s*['"`]samba['"`]\s*\)/.test(file.source) ||
    /\bsupport\/samba(?:\.js)?['"]/.test(file.source) ||
    /samba/i.test(file.path.slice(file.path.lastIndexOf('/') + 1))
  );
}

/** A file that reads the injected 389-DS. */
export function usesDs389(file: QueuedFile): boolean {
  return /\binject\(\s*['"`]ds389['"`]\s*\)/.test(file.source);
}

/** A server the global setup starts for a run: how messages name it and how files use it. */
interface Server {
  /** "X uses Samba" */
  short: string;
  /** "but the Samba AD DC cannot run" */
  long: string;
  /** The local opt-out, ignored in CI. */
  optOut: string;
  uses(file: QueuedFile): boolean;
}

const SAMBA: Server = {
  short: 'Samba',
  long: 'the Samba AD DC',
  optOut: 'DIRSYNC_TEST_SAMBA=0',
  uses: usesSamba,
};
const DS389: Server = {
  short: '389-DS',
  long: 'the 389 Directory Server',
  optOut: 'DIRSYNC_TEST_DS389=0',
  uses: usesDs389,
};

/** Any test file outside test/unit/: the integration, e2e and simulation suites. */
function beyondUnit(file: QueuedFile): boolean {
  return !file.path.startsWith('test/unit/');
}

function serverSetup(server: Server, input: SambaSetupInput): SambaSetup {
  const user = input.files.find((file) => server.uses(file));
  if (input.ci) {
    const suite = user ?? input.files.find(beyondUnit);
    if (suite === undefined) return { action: 'none' };
    const because =
      user === undefined
        ? `CI=true and the run includes ${suite.path}`
        : `CI=true and ${user.path} uses ${server.short}`;
    if (input.unavailable !== undefined) {
      return {
        action: 'fail',
        reason: `${because}, but ${server.long} cannot run: ${input.unavailable}`,
      };
    }
    return { action: 'start', because };
  }
  if (user === undefined) return { action: 'none' };
  if (input.unavailable !== undefined) return { action: 'skip', reason: input.unavailable };
  if (input.optedOut) return { action: 'skip', reason: server.optOut };
  return { action: 'start', because: `${user.path} uses ${server.short}` };
}

export function sambaSetup(input: SambaSetupInput): SambaSetup {
  return serverSetup(SAMBA, input);
}

/** The same rule for the 389 Directory Server (`optedOut`: DIRSYNC_TEST_DS389=0). */
export function ds389Setup(input: SambaSetupInput): SambaSetup {
  return serverSetup(DS389, input);
}

/**
 * What a Samba test file does with `inject('samba')`: locally an absent Samba skips its tests (the
 * global setup said why); in CI it fails the file, so that no rule above can be dodged by a file
 * whose text the global setup misread.
 */
export function sambaOrSkip<T>(
  provided: T | undefined,
  ci: boolean = process.env.CI === 'true',
): T | undefined {
  if (provided === undefined && ci) {
    throw new Error(
      'CI=true but the global setup provided no Samba AD DC, so these tests would be skipped. To fix: make test/support/samba-setup.ts start Samba for this file (its rules missed it).',
    );
  }
  return provided;
}
