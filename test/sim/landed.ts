import { ALL_FAULTS, type FaultSwitches } from './arbitraries.js';

/**
 * The faults `npm test` injects. A fault whose fix has not landed on main is set to false here,
 * with the reason, until it does (the soak, `--faults all`, injects everything regardless).
 */
export const LANDED_FAULTS: FaultSwitches = {
  ...ALL_FAULTS,
};
