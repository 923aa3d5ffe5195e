import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { RulesConfig } from '../../../src/config/schema.js';
import { detailReadsNeeded, plan } from '../../../src/reconcile/plan.js';
import { compileScope, outOfScopeReason } from '../../../src/reconcile/scope.js';
import { configErrorOf } from '../../support/errors.js';
import { aDirectoryUser, anInputOf, anOrgUser, someRules } from './builders.js';

type Scope = RulesConfig['scope'];
const scopeOf = (emailDomains: string[], exclude: string[] = []): Scope => ({
  emailDomains,
  exclude,
});

describe('compileScope', () => {
  it.each([
    ['joe@corp.example.com', ['corp.example.com'], true],
    ['joe@CORP.Example.com', ['Corp.EXAMPLE.com '], true],
    ['joe@other.example.com', ['corp.example.com'], false],
    ['joe@eu.example.com', ['*.example.com'], true],
    ['joe@a.b.example.com', ['*.example.com'], true],
    ['joe@EU.Example.COM', ['*.EXAMPLE.com'], true],
    // Every subdomain, not the apex: list both to have both.
    ['joe@example.com', ['*.example.com'], false],
    ['joe@example.com', ['*.example.com', 'example.com'], true],
    ['joe@badexample.com', ['*.example.com'], false],
    ['joe@example.com.evil.net', ['*.example.com'], false],
    ['joe@corp.example.com', ['example.com'], false],
  ])('%s in %j: %s', (email, domains, expected) => {
    expect(compileScope(scopeOf(domains)).includes(email)).toBe(expected);
  });

  it('leaves out excluded addresses, case-insensitively, wildcard or not', () => {
    const scope = compileScope(
      scopeOf(
        ['corp.example.com', '*.example.net'],
        [' Breakglass@Corp.Example.com', 'x@eu.example.net'],
      ),
    );

    expect(scope.includes('breakglass@corp.example.com')).toBe(false);
    expect(scope.includes('X@EU.example.net')).toBe(false);
    expect(scope.includes('y@eu.example.net')).toBe(true);
  });

  it('agrees with a naive reading of the rules on random domains (property)', () => {
    const label = fc.constantFrom('a', 'b', 'ab', 'x');
    const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
    const entry = fc.tuple(fc.boolean(), domain, fc.boolean()).map(([wild, d, upper]) => {
      const e = wild ? `*.${d}` : d;
      return upper ? e.toUpperCase() : e;
    });
    const address = fc
      .tuple(fc.constantFrom('joe', 'Ann'), domain, fc.boolean())
      .map(([local, d, upper]) => `${local}@${upper ? d.toUpperCase() : d}`);
    const naive = (email: string, scope: Scope): boolean => {
      const a = email.trim().toLowerCase();
      if (scope.exclude.some((x) => x.trim().toLowerCase() === a)) return false;
      const d = a.slice(a.lastIndexOf('@') + 1);
      return scope.emailDomains.some((raw) => {
        const e = raw.trim().toLowerCase();
        return e.startsWith('*.') ? d.endsWith(`.${e.slice(2)}`) : d === e;
      });
    };

    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 8 }),
        fc.array(address, { maxLength: 3 }),
        fc.array(address, { minLength: 1, maxLength: 20 }),
        (domains, exclude, emails) => {
          const scope = scopeOf(domains, exclude);
          const compiled = compileScope(scope);
          for (const email of emails) expect(compiled.includes(email)).toBe(naive(email, scope));
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** `list`, counting each read of one of its elements in `reads.count`. */
function counting(list: string[], reads: { count: number }): string[] {
  return new Proxy(list, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads.count++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

describe('scope in the plan', () => {
  it('manages the subdomains a *. entry names, not its apex', () => {
    const people = ['joe@eu.example.com', 'ann@example.com', 'bob@a.b.example.com'].map(
      (email) => ({ dir: aDirectoryUser({ email }), org: anOrgUser({ email }) }),
    );
    const rules = someRules({ scope: { emailDomains: ['*.Example.com'] } });

    const result = plan(anInputOf(people, { rules }));

    expect(result.summary.managedUsers).toBe(2);
    expect(new Set(result.actions.map((a) => a.email))).toEqual(
      new Set(['joe@eu.example.com', 'bob@a.b.example.com']),
    );
  });
});

describe('scope at scale', () => {
  it('reads the domain list once per plan, not once per user (7,740 domains)', () => {
    const domains = Array.from({ length: 7_740 }, (_, i) => `d${i}.example.com`);
    const people = Array.from({ length: 200 }, (_, i) => {
      const email = `user${i}@d${7_739 - (i % 10)}.example.com`;
      return { dir: aDirectoryUser({ email }), org: anOrgUser({ email }) };
    });
    const rules = someRules({ scope: { emailDomains: domains } });
    const reads = { count: 0 };
    rules.scope.emailDomains = counting(rules.scope.emailDomains, reads);
    const input = anInputOf(people, { rules });

    const result = plan(input);
    const planReads = reads.count;
    reads.count = 0;
    detailReadsNeeded(input, { sweep: true });

    expect(result.summary.managedUsers).toBe(200);
    expect(planReads).toBeLessThanOrEqual(domains.length);
    expect(reads.count).toBeLessThanOrEqual(domains.length);
  });
});

describe('rules.scope.emailDomains in the config', () => {
  const configWith = (domains: string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-scope-'));
    const path = join(dir, 'dirsync.yaml');
    writeFileSync(
      path,
      `source:\n  type: ldif\n  file: x.ldif\n  users: { baseDns: [dc=x] }\napi:\n  baseUrl: https://api.example.com\n  token: t\nrules:\n  scope:\n    emailDomains: ${domains}\n`,
    );
    return path;
  };

  it('takes exact domains and *. wildcards', () => {
    const { config } = loadConfig(configWith('[corp.example.com, "*.Example.net"]'), {});
    expect(config.rules.scope.emailDomains).toEqual(['corp.example.com', '*.Example.net']);
  });

  it.each(['"*"', '"*."', '"a.*.b"', '"*.*.example.com"', '"*example.com"', '" "'])(
    'refuses %s, naming the key',
    (entry) => {
      const error = configErrorOf(() => loadConfig(configWith(`[corp.example.com, ${entry}]`), {}));
      expect(error.message).toMatch(/rules\.scope\.emailDomains\[1\].*is not an email domain/);
      expect(error.message).toContain('*.example.com: every subdomain of example.com');
    },
  );
});

describe('why an address is out of scope (explain)', () => {
  it('names the first few of 7,740 domain entries and counts the rest', () => {
    const domains = Array.from({ length: 7_740 }, (_, i) => `d${i}.example.com`);

    const reason = outOfScopeReason('Joe@Other.example.org', scopeOf(domains));

    expect(reason).toBe(
      'domain other.example.org; rules.scope.emailDomains: d0.example.com, d1.example.com, d2.example.com, d3.example.com, d4.example.com and 7735 more',
    );
  });

  it('lists a short scope whole, and says when exclude is the reason', () => {
    const scope = scopeOf(['corp.example.com', '*.example.net'], ['Breakglass@corp.example.com']);

    expect(outOfScopeReason('joe@example.net', scope)).toBe(
      'domain example.net; rules.scope.emailDomains: corp.example.com, *.example.net',
    );
    expect(outOfScopeReason('breakglass@Corp.example.com', scope)).toBe(
      'rules.scope.exclude lists it',
    );
  });
});
