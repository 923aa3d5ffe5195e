import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { recordedBaseUrl } from '../base-url.js';
import { valueAt } from '../config/file.js';
import { ConfigError } from '../errors.js';
import type { OrganizationIdentity } from '../state/model.js';
import { judgeSample, type ListedUser } from '../state/organization.js';
import { planProblems } from './apply.js';
import { Plan, type PlanOrigin } from './model.js';

/**
 * Plan files: `dirsync plan --out`, and the `plans/held-*.json` and `plans/refused-*.json` a run
 * saves for review. `apply --plan` reads one back through the plan's own schema, and sends it
 * only to the API and the organization it was made for.
 */

/** A plan read from a file: it says where it was made. */
export type SavedPlan = Plan & { madeFor: PlanOrigin };

const REPLAN = 'make a new plan with `dirsync plan --out FILE` and review that one';

/** Where a plan is made: the API, and the organization as the plan's listing shows it. */
export function planOrigin(baseUrl: string, organization: OrganizationIdentity): PlanOrigin {
  return { apiBaseUrl: recordedBaseUrl(baseUrl), organization };
}

/** `actions[3].after` */
function pathText(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;

/** One schema problem, for a person: where, what was expected, what was found. */
function describeIssue(issue: z.core.$ZodIssue, data: unknown): string {
  const where = issue.path.length === 0 ? 'the file' : pathText(issue.path);
  const value = valueAt(data, issue.path);
  const got = value === undefined ? '' : `, got ${shown(value)}`;
  switch (issue.code) {
    case 'invalid_value':
      return `${where}: expected ${issue.values.length === 1 ? 'the value ' : 'one of '}${issue.values.map(String).join(', ')}${got}`;
    case 'invalid_union': {
      const options = 'options' in issue ? (issue.options as unknown[]) : undefined;
      return options === undefined
        ? `${where}: ${issue.message}`
        : `${where}: expected one of ${options.map(String).join(', ')}${got}`;
    }
    case 'invalid_type':
      return value === undefined
        ? `${where}: required`
        : `${where}: expected ${issue.expected}, got ${typeOf(value)} ${shown(value)}`;
    case 'too_small':
      return issue.origin === 'number'
        ? `${where}: expected a positive whole number${got}`
        : `${where}: ${issue.message}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/** How many schema problems a refusal lists. */
const SHOWN_ISSUES = 5;

/**
 * Checks a plan file's content: the schema (each kind's before and after), that it says where
 * it was made, and that it changes no user twice and sends nothing the API must not get.
 * Throws a ConfigError naming the file, the action's index and the field.
 */
export function parsePlanFile(data: unknown, path: string): SavedPlan {
  const result = Plan.safeParse(data);
  if (!result.success) {
    const issues = result.error.issues;
    const lines = issues.slice(0, SHOWN_ISSUES).map((i) => describeIssue(i, data));
    if (issues.length > SHOWN_ISSUES) lines.push(`... and ${issues.length - SHOWN_ISSUES} more`);
    const head =
      lines.length === 1
        ? `plan file ${path}: ${lines[0]}`
        : `plan file ${path} is not a valid plan:\n${lines.map((l) => `  ${l}`).join('\n')}`;
    throw new ConfigError(head, {
      hint: `pass a file written by \`dirsync plan --out\` (or saved in plans/ by a run), unedited; or ${REPLAN}`,
    });
  }
  const plan = result.data;
  if (plan.madeFor === undefined) {
    throw new ConfigError(
      `plan file ${path} does not say which API and organization it was made for (it was made before plans recorded them)`,
      { hint: REPLAN },
    );
  }
  const problems = planProblems(plan.actions);
  if (problems.length > 0) {
    throw new ConfigError(
      `plan file ${path} is not valid, nothing was sent:\n${problems.map((p) => `  ${p.message}`).join('\n')}`,
      { hint: REPLAN },
    );
  }
  return { ...plan, madeFor: plan.madeFor };
}

/** Reads and checks a plan file (see {@link parsePlanFile}). */
export function readPlanFile(path: string): SavedPlan {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(
      `plan file ${path} cannot be read as JSON: ${error instanceof Error ? error.message : String(error)}`,
      { hint: 'pass a file written by `dirsync plan --out`' },
    );
  }
  return parsePlanFile(data, path);
}

/**
 * Refuses a reviewed plan made against another API: checked before anything is read, since the
 * plan's ids mean nothing there.
 */
export function checkPlanApi(plan: SavedPlan, baseUrl: string, path: string): void {
  const here = recordedBaseUrl(baseUrl);
  if (plan.madeFor.apiBaseUrl === here) return;
  throw new ConfigError(
    `plan file ${path} was made for the API at ${plan.madeFor.apiBaseUrl}, not api.baseUrl ${here}: nothing was sent`,
    {
      hint: `apply it with the config of the API it was made for; or, for this one, ${REPLAN}`,
    },
  );
}

/**
 * Refuses a reviewed plan made for another organization on the same API (two organizations can
 * share one): none of the (email_id, user_id) pairs it was made from is in today's listing.
 */
export function checkPlanOrganization(
  plan: SavedPlan,
  users: readonly ListedUser[],
  path: string,
): void {
  const verdict = judgeSample(plan.madeFor.organization.sample, users);
  if (verdict.same !== false) return;
  const owner = plan.madeFor.organization.tokenOwner;
  const whose = owner === undefined ? '' : ` (the one of api.tokenOwner ${owner})`;
  throw new ConfigError(
    `plan file ${path} was made for another organization${whose} on ${plan.madeFor.apiBaseUrl}: ${verdict.reason}; nothing was sent`,
    {
      hint: `apply it with the config (api.token) of the organization it was made for; or, for this one, ${REPLAN}`,
    },
  );
}
