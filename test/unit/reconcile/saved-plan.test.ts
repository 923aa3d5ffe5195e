import { describe, expect, it } from 'vitest';
import { NOT_A_URL, recordedBaseUrl, sameBaseUrl } from '../../../src/base-url.js';
import { ConfigError, exitCodeFor } from '../../../src/errors.js';
import {
  checkPlanApi,
  checkPlanOrganization,
  parsePlanFile,
  planOrigin,
} from '../../../src/reconcile/saved-plan.js';
import { aPlan, anAction, anOrgUser, DOMAIN } from './builders.js';

const FILE = 'x.json';
const joe = anOrgUser({ email: `joe@${DOMAIN}` });

/** A plan as `plan --out` writes it, through JSON: rank, logins, cards, a suspension. */
function aSavedPlanJson(): Record<string, unknown> {
  const plan = {
    ...aPlan({
      actions: [
        anAction({ kind: 'set_computer_usernames', before: null, after: ['joe'] }),
        anAction({ kind: 'set_smartcards', before: [], after: ['0042'] }),
        anAction({ kind: 'set_rank', before: 'REGULAR', after: 'ADMIN' }),
        anAction({ kind: 'suspend', email: `ann@${DOMAIN}` }),
      ],
    }),
    madeFor: planOrigin('https://api.example.com', {
      tokenOwner: `owner@${DOMAIN}`,
      sample: [[joe.emailId, joe.userId]],
    }),
  };
  return JSON.parse(JSON.stringify(plan)) as Record<string, unknown>;
}

const action = (plan: Record<string, unknown>, i: number): Record<string, unknown> =>
  (plan['actions'] as Record<string, unknown>[])[i]!;

function refusal(data: unknown): ConfigError {
  try {
    parsePlanFile(data, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('the plan file was accepted');
}

// Issue 15 item 4, seen on main: "apply --plan validates a plan file loosely" (only kind, email
// and emailId were checked; a set_rank to OWNER or a suspend to ACTIVE went to the API).
describe('parsePlanFile: the schema, with the action index and the field', () => {
  it('reads back what plan --out writes', () => {
    const data = aSavedPlanJson();

    const plan = parsePlanFile(data, FILE);

    expect(plan.actions.map((a) => a.kind)).toEqual([
      'set_computer_usernames',
      'set_smartcards',
      'set_rank',
      'suspend',
    ]);
    expect(plan.madeFor.apiBaseUrl).toBe('https://api.example.com');
  });

  it.each<[string, (p: Record<string, unknown>) => void, string]>([
    [
      'a rank that does not exist',
      (p) => (action(p, 2)['after'] = 'OWNER'),
      'plan file x.json: actions[2].after: expected one of SUPER, ADMIN, REGULAR, got "OWNER"',
    ],
    [
      'a suspension to another status',
      (p) => (action(p, 3)['after'] = 'ACTIVE'),
      'plan file x.json: actions[3].after: expected the value SUSPENDED, got "ACTIVE"',
    ],
    [
      'a kind that does not exist',
      (p) => (action(p, 0)['kind'] = 'purge'),
      'plan file x.json: actions[0].kind: expected one of promote_guest, unsuspend, set_computer_usernames, set_smartcards, set_rank, suspend, remove, got "purge"',
    ],
    [
      'a set_rank without its user_id',
      (p) => delete action(p, 2)['userId'],
      'plan file x.json: actions[2].userId: required',
    ],
    [
      'a login name that is not a string',
      (p) => (action(p, 0)['after'] = [7]),
      'plan file x.json: actions[0].after[0]: expected string, got number 7',
    ],
    [
      'an email_id that is not a positive number',
      (p) => (action(p, 1)['emailId'] = -4),
      'plan file x.json: actions[1].emailId: expected a positive whole number, got -4',
    ],
    [
      'cards that are not the numbers of after',
      (p) => (action(p, 1)['cards'] = [{ number: '9999', label: '' }]),
      "plan file x.json: actions[1].cards: the cards' numbers differ from after",
    ],
    [
      'another format version',
      (p) => (p['formatVersion'] = 2),
      'plan file x.json: formatVersion: expected the value 1, got 2',
    ],
  ])('refuses %s, as a config error (exit 2)', (_what, edit, message) => {
    const data = aSavedPlanJson();
    edit(data);

    const error = refusal(data);

    expect(error.message).toBe(message);
    expect(error.hint).toContain('dirsync plan --out');
    expect(exitCodeFor(error)).toBe(2);
  });

  it('lists several problems one a line', () => {
    const data = aSavedPlanJson();
    action(data, 2)['after'] = 'OWNER';
    action(data, 3)['emailId'] = 'ann';

    expect(refusal(data).message).toBe(
      'plan file x.json is not a valid plan:\n' +
        '  actions[2].after: expected one of SUPER, ADMIN, REGULAR, got "OWNER"\n' +
        '  actions[3].emailId: expected number, got string "ann"',
    );
  });

  it('refuses a plan that does not say where it was made (one made before plans recorded it)', () => {
    const data = aSavedPlanJson();
    delete data['madeFor'];

    const error = refusal(data);

    expect(error.message).toBe(
      'plan file x.json does not say which API and organization it was made for (it was made before plans recorded them)',
    );
    expect(error.hint).toBe('make a new plan with `dirsync plan --out FILE` and review that one');
  });

  it('refuses a plan that changes a user twice', () => {
    const data = aSavedPlanJson();
    (data['actions'] as unknown[]).push(action(data, 3));

    expect(refusal(data).message).toMatch(
      /^plan file x.json is not valid, nothing was sent:\n {2}action 4 \(suspend/,
    );
  });
});

describe('where a plan was made', () => {
  it('records api.baseUrl without credentials, query or trailing slash', () => {
    expect(recordedBaseUrl('https://svc:s3cret@api.example.com/v1/?token=abc#x')).toBe(
      'https://api.example.com/v1',
    );
  });

  it('records a value that is not a URL as a placeholder, keeping nothing of it', () => {
    expect(recordedBaseUrl('https://svc:s3cret@api.example.com:notaport/')).toBe(NOT_A_URL);
    expect(recordedBaseUrl('https://svc:s3cret@[bad')).toBe(NOT_A_URL);
  });

  it('compares as it records, and values that are not URLs only as spelled', () => {
    expect(sameBaseUrl('https://api.example.com/', 'https://api.example.com')).toBe(true);
    expect(sameBaseUrl('https://API.example.com:443/v1//', 'https://api.example.com/v1')).toBe(
      true,
    );
    expect(sameBaseUrl('https://api.example.com/v1', 'https://api.example.com/v2')).toBe(false);
    expect(sameBaseUrl('https://[bad', 'https://[bad')).toBe(true);
    expect(sameBaseUrl('https://[bad', 'https://[worse')).toBe(false);
  });

  it('refuses another API, naming both', () => {
    const plan = parsePlanFile(aSavedPlanJson(), FILE);

    expect(() => checkPlanApi(plan, 'https://api.example.com/', FILE)).not.toThrow();
    expect(() => checkPlanApi(plan, 'https://api.other.example', FILE)).toThrow(
      'plan file x.json was made for the API at https://api.example.com, not api.baseUrl https://api.other.example: nothing was sent',
    );
  });

  it('refuses another organization: none of its (email_id, user_id) pairs is listed', () => {
    const plan = parsePlanFile(aSavedPlanJson(), FILE);
    const stranger = anOrgUser({ email: `stranger@${DOMAIN}` });

    expect(() => checkPlanOrganization(plan, [joe, stranger], FILE)).not.toThrow();
    expect(() => checkPlanOrganization(plan, [stranger], FILE)).toThrow(
      `plan file x.json was made for another organization (the one of api.tokenOwner owner@${DOMAIN}) on https://api.example.com: none of the 1 users it last saw there (by email_id and user_id) is in this organization's listing; nothing was sent`,
    );
  });
});
