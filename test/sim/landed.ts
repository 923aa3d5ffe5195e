import { ALL_FAULTS, type FaultSwitches } from './arbitraries.js';

/**
 * The faults `npm test` injects. A fault whose fix has not landed on main is set to false here,
 * with the reason, until it does (the soak, `--faults all`, injects everything regardless).
 */
export const LANDED_FAULTS: FaultSwitches = {
  ...ALL_FAULTS,
  // SUPER-group members who are disabled or leave. lastSuper judges the plan's result as if
  // every action landed, and a suspended user granted SUPER counts as one: the organization is
  // left with no live SUPER when the new SUPER's grant does not land before the old one's
  // suspension (a crash between them), or when the new SUPER is suspended. Shrunk:
  // "run 1: directory: disable p0; crash at write 1" (p1 in the SUPER group, not yet SUPER).
  supersLeave: false,
  // Guests invited by hand. A guest left unpromoted (disabled in the directory) whose directory
  // card differs from the organization's is read again (GET /user) on every run, so a quiet run
  // is not two listings: detailReadsNeeded asks for the labels of cards that no action changes.
  guestInvites: false,
};
