import { ALL_FAULTS, type FaultSwitches } from './arbitraries.js';

/**
 * The faults `npm test` injects. A fault whose fix has not landed on main is set to false here,
 * with the reason, until it does (the soak, `--faults all`, injects everything regardless).
 */
export const LANDED_FAULTS: FaultSwitches = {
  ...ALL_FAULTS,
  // Tight budgets. lastSuper judges the whole plan, held actions included: when a budget holds
  // the grants of the new SUPERs, the demotion of the last real one (no rank on record yet)
  // still applies, and no SUPER is left. Shrunk (seed 20261130): run 1 holds the grants
  // (5 privileged grants, limit 4); run 7 suspends p1 by hand; run 8, small budgets, p0 leaves
  // the SUPER group: set_rank p0 null -> REGULAR applies, the grants to p1 and p4 are held.
  smallBudgets: false,
};
