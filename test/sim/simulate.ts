import type { Scenario, SimStats, Violation } from './model.js';
import { World } from './world.js';

export interface SimResult {
  violations: Violation[];
  stats: SimStats;
}

/**
 * Plays a scenario: each step is one run; then the churn stops and the organization must
 * converge. Stops at the first run with a violation (the rest would only repeat it).
 */
export async function simulate(scenario: Scenario): Promise<SimResult> {
  const world = new World({ seed: scenario.seed, supersLeave: scenario.supersLeave });
  await world.start();
  try {
    for (const step of scenario.steps) {
      await world.step(step);
      if (world.violations.length > 0) break;
    }
    if (world.violations.length === 0) await world.converge();
  } finally {
    await world.close();
  }
  return { violations: world.violations, stats: world.stats };
}
