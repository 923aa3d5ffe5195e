/**
 * The plan: a value, sorted and serialisable, each action with its reason and the before/after
 * it changes. Dry run is "plan and stop"; apply executes exactly these actions.
 */

import type { ValueField } from '../directory/model.js';

export type Rank = 'SUPER' | 'ADMIN' | 'REGULAR';
export type AdStatus = 'PENDING' | 'ACTIVE' | 'SUSPENDED';

export type ActionKind =
  | 'promote_guest'
  | 'unsuspend'
  | 'set_computer_usernames'
  | 'set_smartcards'
  | 'set_rank'
  | 'suspend'
  | 'remove';

/** The order of one user's actions: promote and unsuspend first, removals last. */
export const ACTION_ORDER: readonly ActionKind[] = [
  'promote_guest',
  'unsuspend',
  'set_computer_usernames',
  'set_smartcards',
  'set_rank',
  'suspend',
  'remove',
];

export interface Action {
  kind: ActionKind;
  email: string;
  emailId: number;
  /** Only for set_rank: /modifyrank takes the user_id. */
  userId?: number;
  /** The rule and the group or attribute behind it. */
  reason: string;
  before: unknown;
  after: unknown;
  /** set_smartcards: the cards to send, labels kept from the organization where known. */
  cards?: { number: string; label: string }[];
}

/** An organization user as the planner sees it (both listings). */
export interface OrgUser {
  emailId: number;
  userId: number;
  email: string;
  tag: 'USER' | 'GUEST';
  adStatus: AdStatus;
}

/** Current values from `GET /user`, for the users whose details were read this run. */
export interface OrgDetails {
  computerUsernames: string[];
  smartcards: { number: string; label: string }[];
}

export interface Note {
  /** The user it concerns; '' for a note about a group (`group`). */
  email: string;
  message: string;
  /** A note about a group the rules name (member values that resolve to nobody): its DN. */
  group?: string;
}

/**
 * A directory value dirsync cannot use. The field it feeds is unknown for that user: logins
 * and smart cards are left as the organization has them; an address cannot match anyone.
 */
export interface PlanProblem {
  /** The organization user it concerns, else the directory's address; null when none is usable. */
  email: string | null;
  dn: string;
  field: ValueField;
  /** The directory attribute (employeeNumber, sAMAccountName, mail). */
  attribute: string;
  /** The value, control characters escaped, cut at 80 characters; '' for a partial read. */
  value: string;
  /** What is wrong with it. */
  problem: string;
}

export interface PlanSummary {
  directoryUsers: number;
  organizationUsers: number;
  /** In-scope organization users: the ones dirsync may change. */
  managedUsers: number;
  matched: number;
  actions: Partial<Record<ActionKind, number>>;
}

export interface Plan {
  formatVersion: 1;
  createdAt: string;
  actions: Action[];
  /** Directory users in scope with no organization user: this API cannot create them. */
  notInOrganization: { email: string; dn: string }[];
  /** Emails that several directory users claim: their organization user is left alone. */
  ambiguous: { email: string; dns: string[] }[];
  /** Things the rules wanted that the plan does not do, and why. */
  notes: Note[];
  /**
   * Directory values dirsync cannot use, for the users in scope and the entries it had to skip
   * (sorted by email, then DN). Absent from plans saved before it existed.
   */
  problems?: PlanProblem[];
  /** Removal timers: started this run (emailId -> since) and cleared (user back). */
  timers: { started: Record<string, string>; cleared: number[] };
  summary: PlanSummary;
}
