import { describe, expect, it } from 'vitest';
import { matchUsers } from '../../../src/reconcile/match.js';
import { plan } from '../../../src/reconcile/plan.js';
import { compileScope } from '../../../src/reconcile/scope.js';
import {
  aDirectoryUser,
  anInputOf,
  anOrgUser,
  aPlanInput,
  aStateRecord,
  aSyncedPerson,
  aUserState,
  daysAgo,
  DOMAIN,
  emailIdOf,
  someRules,
} from './builders.js';

const JOE = `joe@${DOMAIN}`;

describe('matchUsers', () => {
  it.each([
    ['the same email', JOE, {}],
    ['the org email in another case', 'Joe@Corp.Example.COM', {}],
    ['the org email with stray spaces', ` ${JOE} `, {}],
    ['an alias (proxyAddresses smtp:)', `joseph@${DOMAIN}`, { aliases: [`joseph@${DOMAIN}`] }],
    ['an alias, org email in another case', `JOSEPH@${DOMAIN}`, { aliases: [`joseph@${DOMAIN}`] }],
  ])('matches through %s', (_label, orgEmail, dirFields) => {
    // Arrange
    const dir = aDirectoryUser({ email: JOE, ...dirFields });
    const org = anOrgUser({ email: orgEmail });

    // Act
    const result = matchUsers([dir], [org]);

    // Assert
    expect(result.matches.get(org.emailId)).toBe(dir);
    expect(result.ambiguous).toEqual([]);
    expect(result.unmatched).toEqual([]);
  });

  it('prefers the directory user whose primary email it is over one who has it as an alias', () => {
    const owner = aDirectoryUser({ email: `ann@${DOMAIN}` });
    const holder = aDirectoryUser({ email: `bob@${DOMAIN}`, aliases: [`ann@${DOMAIN}`] });
    const org = anOrgUser({ email: `ann@${DOMAIN}` });

    const result = matchUsers([holder, owner], [org]);

    expect(result.matches.get(org.emailId)).toBe(owner);
    expect(result.ambiguous).toEqual([]);
    expect(result.unmatched).toEqual([holder]);
  });

  it('calls an email that two directory users claim ambiguous and matches neither', () => {
    const one = aDirectoryUser({ email: JOE, dn: 'CN=joe,OU=A,DC=corp' });
    const two = aDirectoryUser({ email: JOE, dn: 'CN=joe,OU=B,DC=corp' });
    const org = anOrgUser({ email: JOE });

    const result = matchUsers([one, two], [org]);

    expect(result.matches.size).toBe(0);
    expect(result.ambiguousIds).toEqual(new Set([org.emailId]));
    expect(result.ambiguous).toEqual([{ email: JOE, dns: [one.dn, two.dn] }]);
    // Claimed by the ambiguous email: not reported as missing from the organization.
    expect(result.unmatched).toEqual([]);
  });

  it('calls an alias that two directory users carry ambiguous', () => {
    const one = aDirectoryUser({ email: `ann@${DOMAIN}`, aliases: [`team@${DOMAIN}`] });
    const two = aDirectoryUser({ email: `bob@${DOMAIN}`, aliases: [`team@${DOMAIN}`] });
    const org = anOrgUser({ email: `team@${DOMAIN}` });

    const result = matchUsers([one, two], [org]);

    expect(result.matches.size).toBe(0);
    expect(result.ambiguous).toEqual([{ email: `team@${DOMAIN}`, dns: [one.dn, two.dn] }]);
  });

  it('calls an org user ambiguous when it matches only an alias of someone matched by primary email', () => {
    const joe = aDirectoryUser({ email: JOE, aliases: [`joseph@${DOMAIN}`] });
    const primary = anOrgUser({ email: JOE });
    const second = anOrgUser({ email: `joseph@${DOMAIN}` });

    // Either listing order: the primary match always wins.
    for (const organization of [
      [primary, second],
      [second, primary],
    ]) {
      const result = matchUsers([joe], organization);

      expect(result.matches.get(primary.emailId)).toBe(joe);
      expect(result.matches.has(second.emailId)).toBe(false);
      expect(result.ambiguousIds).toEqual(new Set([second.emailId]));
    }
  });
  // BUG: one person, two organization accounts, each reached only through one of the person's
  // aliases: the account listed first is matched and the other called ambiguous, so which account
  // dirsync manages flips with the order /multipleusers happens to list them in. The outcome must
  // not depend on listing order (the natural fix: both are ambiguous, as neither is the primary).
  it('does not let listing order decide between two accounts reached through aliases of one person', () => {
    // Arrange
    const person = aDirectoryUser({
      email: `pat@${DOMAIN}`,
      aliases: [`p.one@${DOMAIN}`, `p.two@${DOMAIN}`],
    });
    const one = anOrgUser({ email: `p.one@${DOMAIN}` });
    const two = anOrgUser({ email: `p.two@${DOMAIN}` });

    // Act
    const forward = matchUsers([person], [one, two]);
    const backward = matchUsers([person], [two, one]);

    // Assert
    expect([...backward.matches.keys()].sort()).toEqual([...forward.matches.keys()].sort());
    expect(backward.ambiguousIds).toEqual(forward.ambiguousIds);
  });
});

describe('plan: ambiguous matches', () => {
  const one = aDirectoryUser({ email: JOE, dn: 'CN=joe,OU=A,DC=corp', disabled: true });
  const two = aDirectoryUser({ email: JOE, dn: 'CN=joe,OU=B,DC=corp', logins: ['other'] });

  it.each([
    ['removed.action delete, grace over', { action: 'delete', graceDays: 0 }, daysAgo(30)],
    ['removed.action delete, timer running', { action: 'delete', graceDays: 7 }, undefined],
    ['removed.action suspend', { action: 'suspend', graceDays: 7 }, undefined],
  ] as const)('gets no action and is never removed (%s)', (_label, removed, missingSince) => {
    // Arrange
    const org = anOrgUser({ email: JOE });
    const input = aPlanInput({
      directory: [one, two],
      organization: [org],
      state: aStateRecord({
        users: [
          aUserState({ email: JOE, ...(missingSince === undefined ? {} : { missingSince }) }),
        ],
      }),
      rules: someRules({ removed }),
    });

    // Act
    const result = plan(input);

    // Assert
    expect(result.actions).toEqual([]);
    expect(result.timers.started).toEqual({});
    expect(result.ambiguous).toEqual([{ email: JOE, dns: [one.dn, two.dn] }]);
    expect(result.summary).toMatchObject({ managedUsers: 1, matched: 0 });
  });

  it('leaves an org user reached only through the alias of an already matched person alone', () => {
    const joe = aSyncedPerson(JOE, { dir: { aliases: [`joseph@${DOMAIN}`] } });
    const second = anOrgUser({ email: `joseph@${DOMAIN}` });

    const result = plan(
      anInputOf([joe, { org: second }], {
        rules: someRules({ removed: { action: 'delete', graceDays: 0 } }),
      }),
    );

    expect(result.actions).toEqual([]);
    expect(result.ambiguous).toEqual([{ email: `joseph@${DOMAIN}`, dns: [joe.dir.dn] }]);
  });

  // BUG: an ambiguous email is present in the directory (twice), so "absent from every complete
  // read since" no longer holds: its removal timer must be cleared. The planner skips ambiguous
  // users before the timer bookkeeping, so a timer started before the ambiguity survives it and,
  // once the duplicate is fixed and the user really leaves, removes them with no grace at all.
  it('clears the removal timer of a user who comes back as an ambiguous match', () => {
    const org = anOrgUser({ email: JOE });
    const input = aPlanInput({
      directory: [one, two],
      organization: [org],
      state: aStateRecord({ users: [aUserState({ email: JOE, missingSince: daysAgo(3) })] }),
      rules: someRules({ removed: { action: 'delete', graceDays: 7 } }),
    });

    const result = plan(input);

    expect(result.actions).toEqual([]);
    expect(result.timers.cleared).toEqual([emailIdOf(JOE)]);
  });
});

describe('scope', () => {
  it.each([
    [JOE, {}, true],
    ['Joe@CORP.example.com', {}, true],
    [`joe@sub.${DOMAIN}`, {}, false],
    ['joe@other.example.com', {}, false],
    [JOE, { exclude: [JOE] }, false],
    [JOE, { exclude: ['  JOE@corp.example.com '] }, false],
    [`ann@${DOMAIN}`, { exclude: [JOE] }, true],
  ])('%s with %j is in scope: %s', (email, scope, expected) => {
    const rules = someRules({ scope: { emailDomains: [DOMAIN], ...scope } });

    expect(compileScope(rules.scope).includes(email)).toBe(expected);
  });

  const outOfScope = [
    ['another domain', 'sam@other.example.com', []],
    ['the exclude list', `breakglass@${DOMAIN}`, [`breakglass@${DOMAIN}`]],
  ] as const;

  it.each(outOfScope)('never acts on a present user of %s', (_label, email, exclude) => {
    // Arrange: everything differs from what the rules want.
    const person = aSyncedPerson(email, {
      dir: { disabled: true },
      record: { rank: 'SUPER', computerUsernames: ['stale'] },
    });
    const rules = someRules({ scope: { emailDomains: [DOMAIN], exclude: [...exclude] } });

    // Act
    const result = plan(anInputOf([person], { rules }));

    // Assert
    expect(result.actions).toEqual([]);
    expect(result.notes).toEqual([]);
    expect(result.summary).toMatchObject({ organizationUsers: 1, managedUsers: 0, matched: 0 });
  });

  it.each(outOfScope)('never removes an absent user of %s', (_label, email, exclude) => {
    const rules = someRules({
      scope: { emailDomains: [DOMAIN], exclude: [...exclude] },
      removed: { action: 'delete', graceDays: 0 },
    });

    const result = plan(
      anInputOf(
        [{ org: anOrgUser({ email }), record: aUserState({ email, missingSince: daysAgo(30) }) }],
        {
          rules,
        },
      ),
    );

    expect(result.actions).toEqual([]);
    expect(result.notes).toEqual([]);
    expect(result.timers).toEqual({ started: {}, cleared: [] });
  });

  it('reports in-scope directory users missing from the organization, and only those', () => {
    const here = aSyncedPerson(JOE);
    const missing = aDirectoryUser({ email: `zoe@${DOMAIN}` });
    const missingToo = aDirectoryUser({ email: `amy@${DOMAIN}` });
    const otherDomain = aDirectoryUser({ email: 'sam@other.example.com' });
    const excluded = aDirectoryUser({ email: `breakglass@${DOMAIN}` });

    const result = plan(
      anInputOf(
        [here, { dir: missing }, { dir: otherDomain }, { dir: missingToo }, { dir: excluded }],
        {
          rules: someRules({
            scope: { emailDomains: [DOMAIN], exclude: [`breakglass@${DOMAIN}`] },
          }),
        },
      ),
    );

    expect(result.notInOrganization).toEqual([
      { email: missingToo.email, dn: missingToo.dn },
      { email: missing.email, dn: missing.dn },
    ]);
    expect(result.actions).toEqual([]);
  });
});
