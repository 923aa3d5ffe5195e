import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scenario } from './arbitraries.js';
import { describeScenario } from './describe.js';
import { LANDED_FAULTS } from './landed.js';
import { simulate } from './simulate.js';

/**
 * Issue 11 item 8 and issue 12 item 8: dirsync over a long life. Each property run is one
 * company: tens of consecutive runs of `applyRun` over an LDIF directory with seeded churn, and
 * the mock API behind a hostile gateway, with hand edits, lost answers, 429/5xx, crashes and
 * rail trips; invariants are checked as changes land and after every run, and the churn must
 * converge. A failure shrinks to a short scenario, printed with its seed.
 *
 * DIRSYNC_SIM_SEED and DIRSYNC_SIM_RUNS replay or widen it; `npm run soak` runs one long life.
 */

const seed = Number(process.env['DIRSYNC_SIM_SEED'] ?? 20261130);
const numRuns = Number(process.env['DIRSYNC_SIM_RUNS'] ?? 10);

describe('simulation: many runs, churn, hand edits, faults and crashes', () => {
  it('keeps every invariant run after run, and converges once the churn stops', async () => {
    let totalRuns = 0;
    await fc.assert(
      fc.asyncProperty(scenario(LANDED_FAULTS, { min: 20, max: 50 }), async (sc) => {
        const result = await simulate(sc);
        totalRuns += result.stats.runs;
        if (result.violations.length > 0) {
          throw new Error(
            `invariants broken (seed of this scenario ${sc.seed}):\n` +
              result.violations
                .slice(0, 5)
                .map((v) => `  run ${v.run}: ${v.invariant}: ${v.detail}`)
                .join('\n') +
              `\nscenario, up to the failing run:\n${describeScenario(sc, result.violations[0]!.run)}`,
          );
        }
      }),
      { seed, numRuns, interruptAfterTimeLimit: 150_000, markInterruptAsFailure: false },
    );
    // Hundreds of runs, not a handful: the property is about a long life.
    expect(totalRuns).toBeGreaterThanOrEqual(Math.min(numRuns * 20, 200));
  }, 240_000);
});
