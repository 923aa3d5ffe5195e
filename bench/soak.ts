/**
 * The long-life soak: the simulation of test/sim/ as one company over many runs, from a seed.
 *
 *   npm run soak -- --runs 10000 --seed 7 [--converge-every 250] [--faults all|landed|none]
 *
 * Each run: seeded directory churn, hand edits between and during runs, and the faults of the
 * run (lost answers, 429/5xx, slow toggles, cached listings, repeated rows, crashes, tight
 * budgets); invariants are checked as changes land and after every run; every
 * `--converge-every` runs the churn stops and the organization must converge. Prints figures
 * and every broken invariant (the first few of each kind); exits 1 if any was broken.
 */
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import {
  ALL_FAULTS,
  NO_FAULT_SWITCHES,
  step,
  type FaultSwitches,
} from '../test/sim/arbitraries.js';
import type { Violation } from '../test/sim/model.js';
import { LANDED_FAULTS } from '../test/sim/landed.js';
import { World } from '../test/sim/world.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const runs = Number(option('runs', '1000'));
const seed = Number(option('seed', String(Date.now() % 2 ** 31)));
const convergeEvery = Number(option('converge-every', '250'));
const faultSet = option('faults', 'all');
const switches: FaultSwitches =
  faultSet === 'landed' ? LANDED_FAULTS : faultSet === 'none' ? NO_FAULT_SWITCHES : ALL_FAULTS;
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error(
    'usage: npm run soak -- --runs N --seed S [--converge-every K] [--faults all|landed|none]',
  );
  process.exit(2);
}

const byInvariant = new Map<string, Violation[]>();
const world = new World({
  seed,
  supersLeave: switches.supersLeave,
  onViolation: (v) => {
    const list = byInvariant.get(v.invariant) ?? [];
    list.push(v);
    byInvariant.set(v.invariant, list);
  },
});
const started = performance.now();
await world.start();
const CHUNK = 500;
let done = 0;
let lastPrint = started;
try {
  while (done < runs) {
    const n = Math.min(CHUNK, runs - done);
    const steps = fc.sample(step(switches), { seed: seed + done, numRuns: n });
    for (const s of steps) {
      await world.step(s);
      done++;
      if (done % convergeEvery === 0) await world.converge();
      const now = performance.now();
      if (now - lastPrint > 10_000) {
        lastPrint = now;
        console.error(
          `soak: ${done}/${runs} runs, ${((now - started) / 1000).toFixed(0)} s, ${world.violations.length} violation(s)`,
        );
      }
    }
  }
  await world.converge();
} finally {
  await world.close();
}
const wallMs = performance.now() - started;
const s = world.stats;
const applied = Object.fromEntries(
  Object.entries(s.actions).map(([kind, outcomes]) => [kind, outcomes['applied'] ?? 0]),
);
console.log(
  JSON.stringify(
    {
      seed,
      faults: faultSet,
      runs: s.runs,
      runsApplied: s.runsApplied,
      runsRefused: s.runsRefused,
      runsFailed: s.runsFailed,
      runsCrashed: s.runsCrashed,
      convergenceChecks: s.convergenceChecks,
      actionsApplied: applied,
      actionOutcomes: s.actions,
      railTrips: s.railTrips,
      runFailures: s.runFailures,
      faultsInjected: s.faults,
      handEdits: s.handEdits,
      directoryChurn: s.churn,
      apiRequests: s.apiRequests,
      invariantChecks: s.invariantChecks,
      violations: Object.fromEntries([...byInvariant].map(([k, v]) => [k, v.length])),
      wallSeconds: Number((wallMs / 1000).toFixed(1)),
      runsPerSecond: Number((s.runs / (wallMs / 1000)).toFixed(1)),
      peakRssMiB: Number((process.resourceUsage().maxRSS / 1024).toFixed(1)),
    },
    null,
    2,
  ),
);
for (const [invariant, list] of byInvariant) {
  console.log(`\n${invariant}: ${list.length}`);
  for (const v of list.slice(0, 3)) console.log(`  run ${v.run}: ${v.detail}`);
}
process.exit(byInvariant.size > 0 ? 1 : 0);
