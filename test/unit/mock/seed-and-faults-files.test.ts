import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FaultInjector, loadFaultsFile, parseFaults } from '../../../src/mock/faults.js';
import { loadSeedFile } from '../../../src/mock/seed.js';
import { configErrorOf } from '../../support/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'dirsync-seed-'));
let n = 0;
function file(text: string, ext = 'yaml'): string {
  const path = join(dir, `f${n++}.${ext}`);
  writeFileSync(path, text);
  return path;
}

const user = (extra = ''): string => `      - { email: a@x.example${extra} }\n`;
const org = (users: string, tokens = ''): string =>
  `organizations:\n  - name: corp\n${tokens}    users:\n${users}`;

describe('seed file', () => {
  it('fills the defaults of omitted fields', () => {
    const seed = loadSeedFile(file(org(user())));
    expect(seed.organizations[0]?.users[0]).toMatchObject({
      rank: 'REGULAR',
      tag: 'USER',
      ad_status: 'ACTIVE',
      computer_usernames: [],
      smartcards: [],
      groups: [],
      policies: [],
    });
  });

  it('reads JSON seeds too', () => {
    const path = file(
      JSON.stringify({ organizations: [{ name: 'o', users: [{ email: 'a@x.example' }] }] }),
      'json',
    );
    expect(loadSeedFile(path).organizations[0]?.users).toHaveLength(1);
  });

  it.each([
    ['a wrong enum', org(user(', rank: KING')), 'organizations[0].users[0].rank'],
    ['an unknown key', org(user(', colour: blue')), 'organizations[0].users[0]'],
    ['a bad email', org('      - { email: not-an-email }\n'), 'organizations[0].users[0].email'],
    [
      'a card number with letters',
      org(user(", smartcards: [{ number: '12ab' }]")),
      'organizations[0].users[0].smartcards[0].number',
    ],
    [
      'a duplicate email',
      org(user() + '      - { email: A@X.example }\n'),
      'organizations[0].users[1].email',
    ],
    [
      'a token of a stranger',
      org(user(), '    tokens: [{ token: t, email: b@x.example }]\n'),
      'organizations[0].tokens[0].email',
    ],
    ['no organizations', 'organizations: []\n', 'organizations'],
  ])('names the file and the key for %s', (_name, text, key) => {
    const path = file(text);
    const error = configErrorOf(() => loadSeedFile(path));
    expect(error.message).toContain(path);
    expect(error.message).toContain(key);
    expect(error.hint).toContain(path);
  });

  it('refuses a token used twice without printing it', () => {
    const text =
      'organizations:\n' +
      '  - { name: a, tokens: [{ token: very-secret, email: a@x.example }], users: [{ email: a@x.example }] }\n' +
      '  - { name: b, tokens: [{ token: very-secret, email: b@x.example }], users: [{ email: b@x.example }] }\n';
    const error = configErrorOf(() => loadSeedFile(file(text)));
    expect(error.message).toContain('organizations[1].tokens[0].token');
    expect(error.message).not.toContain('very-secret');
  });

  it('reports a YAML syntax error with its line', () => {
    const error = configErrorOf(() => loadSeedFile(file('organizations:\n  - name: [unclosed\n')));
    expect(error.message).toMatch(/not valid YAML: .* at line 3, column 1$/);
  });

  it('reports a missing file with its path', () => {
    const error = configErrorOf(() => loadSeedFile(join(dir, 'missing.yaml')));
    expect(error.message).toContain('missing.yaml');
    expect(error.message).toContain('ENOENT');
  });
});

describe('faults file', () => {
  it('reads the DESIGN.md example', () => {
    const path = file(
      'seed: 7\n"/togglesuspension": { dropAfterCommit: 0.3 }\n"*": { latencyMs: 5, rate429: 0.1, retryAfterSeconds: 1, rate5xx: 0.02 }\n',
    );
    expect(loadFaultsFile(path)).toEqual({
      seed: 7,
      '/togglesuspension': { dropAfterCommit: 0.3 },
      '*': { latencyMs: 5, rate429: 0.1, retryAfterSeconds: 1, rate5xx: 0.02 },
    });
  });

  it.each([
    ['"/nope": { rate429: 0.1 }\n', '/nope'],
    ['"*": { rate429: 1.5 }\n', '*.rate429'],
    ['"*": { latency: 5 }\n', '*'],
    ['seed: abc\n', 'seed'],
  ])('names the key of a bad entry: %j', (text, key) => {
    const path = file(text);
    const error = configErrorOf(() => loadFaultsFile(path));
    expect(error.message).toContain(path);
    expect(error.message).toContain(key);
  });

  it('draws the same decisions from the same seed', () => {
    const faults = parseFaults({ seed: 9, '*': { rate429: 0.5, dropAfterCommit: 0.5 } }, 'inline');
    const a = new FaultInjector(faults);
    const b = new FaultInjector(faults);
    const draws = (i: FaultInjector): unknown[] =>
      Array.from({ length: 50 }, () => i.decide('/user'));
    expect(draws(a)).toEqual(draws(b));
  });
});
