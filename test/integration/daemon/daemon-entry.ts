// Test-only entry: `node --import tsx daemon-entry.ts <config>` runs `dirsync daemon --config`
// from the sources, so the daemon tests need no build.
import { daemonCommand } from '../../../src/cli/daemon-command.js';
import { describeError, exitCodeFor } from '../../../src/errors.js';

const io = { stdout: process.stdout, stderr: process.stderr };
try {
  process.exitCode = await daemonCommand({ io, env: process.env }, { config: process.argv[2] });
} catch (error) {
  process.stderr.write(`error: ${describeError(error)}\n`);
  process.exitCode = exitCodeFor(error);
}
