import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LdifSourceConfig } from '../../../src/config/source.js';
import { mapUser } from '../../../src/directory/build.js';
import { activeDirectory, openLdap, withAttributes } from '../../../src/directory/flavors.js';
import { LdifSource } from '../../../src/directory/ldif/source.js';
import {
  isKnown,
  type DirectoryWarning,
  type RawEntry,
  type UnusableEntry,
} from '../../../src/directory/model.js';
import { createLogger } from '../../../src/log.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const DN = 'uid=ann,ou=People,dc=x';
const cards = withAttributes(openLdap, { smartcards: 'employeeNumber' });

function anEntry(attrs: Record<string, string[]>, dn = DN): RawEntry {
  return { dn, attributes: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), v])) };
}

function map(attrs: Record<string, string[]>, flavor = cards) {
  const warnings: DirectoryWarning[] = [];
  const unusable: UnusableEntry[] = [];
  const mapped = mapUser(anEntry(attrs), flavor, NOW, warnings, unusable);
  return { user: mapped?.user, warnings, unusable };
}

describe('smart card numbers that cannot be used', () => {
  it('makes the cards unknown for a value that is not digits (issue: employeeNumber AB-77)', () => {
    const { user, warnings } = map({ mail: ['ann@x.com'], employeeNumber: ['AB-77'] });

    expect(user !== undefined && isKnown(user, 'smartcards')).toBe(false);
    expect(user?.problems).toEqual([
      {
        field: 'smartcards',
        attribute: 'employeeNumber',
        value: 'AB-77',
        problem: 'is not a string of digits',
      },
    ]);
    expect(warnings).toEqual([
      {
        dn: DN,
        message:
          'employeeNumber value "AB-77" is not a string of digits: the organization\'s smart cards are left as they are',
      },
    ]);
  });

  it('makes the whole attribute unknown when one of several values is bad', () => {
    const { user } = map({ mail: ['ann@x.com'], employeeNumber: ['0042', 'AB12', ' 7 '] });

    expect(user?.smartcards).toEqual(['0042', '7']);
    expect(user !== undefined && isKnown(user, 'smartcards')).toBe(false);
  });

  it('keeps good numbers known, trimmed', () => {
    const { user, warnings } = map({ mail: ['ann@x.com'], employeeNumber: [' 0042 ', '7'] });

    expect(user?.smartcards).toEqual(['0042', '7']);
    expect(user?.problems).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('refuses a number with a control character inside', () => {
    const { user } = map({ mail: ['ann@x.com'], employeeNumber: ['12\u001b34'] });

    expect(user?.problems?.[0]).toMatchObject({
      value: '12\\x1b34',
      problem: 'holds a control character',
    });
  });
});

describe('login names that cannot be used', () => {
  it.each([
    ['a space', 'ann smith', 'holds a space', 'ann smith'],
    ['ESC and a newline', 'ann\u001b[2K\nroot', 'holds a control character', 'ann\\x1b[2K\\nroot'],
    ['NUL', 'an\u0000n', 'holds a control character', 'an\\x00n'],
    ['DEL', 'ann\u007f', 'holds a control character', 'ann\\x7f'],
    ['a C1 CSI', 'ann\u009b2J', 'holds a control character', 'ann\\x9b2J'],
    ['a bidi override', 'ann\u202egpj', 'holds a control character', 'ann\\u202egpj'],
    ['a zero-width space', 'an\u200bn', 'holds a control character', 'an\\u200bn'],
    ['only a domain', 'CORP\\', 'is empty once trimmed and stripped of its domain', 'CORP\\'],
  ])('makes the logins unknown for %s', (_label, raw, problem, shown) => {
    const { user, warnings } = map({ mail: ['ann@x.com'], uid: ['ann2', raw] });

    expect(user !== undefined && isKnown(user, 'logins')).toBe(false);
    expect(user?.logins).toEqual(['ann2']);
    expect(user?.problems).toEqual([{ field: 'logins', attribute: 'uid', value: shown, problem }]);
    expect(warnings[0]?.message).toContain('computer usernames are left as they are');
  });

  it('still trims the ends and strips the domain of a usable login', () => {
    const { user } = map({ mail: ['ann@x.com'], uid: [' CORP\\Ann\n'] });

    expect(user?.logins).toEqual(['ann']);
    expect(user?.problems).toBeUndefined();
  });

  it('names the attribute the bad value came from when several are mapped', () => {
    const flavor = withAttributes(openLdap, { logins: ['uid', 'cn'] });
    const { user } = map({ mail: ['ann@x.com'], uid: ['ann'], cn: ['Ann Smith'] }, flavor);

    expect(user?.problems).toEqual([
      { field: 'logins', attribute: 'cn', value: 'Ann Smith', problem: 'holds a space' },
    ]);
  });

  it('cuts a long value short in the report', () => {
    const { user } = map({ mail: ['ann@x.com'], uid: [`${'a'.repeat(200)} b`] });

    expect(user?.problems?.[0]?.value).toBe(`${'a'.repeat(80)}...`);
  });
});

describe('addresses that cannot be used', () => {
  it('falls back to a usable alias when mail is malformed, and says mail cannot match', () => {
    const { user } = map(
      {
        mail: ['ann smith@corp.example.com'],
        proxyAddresses: ['SMTP:Ann.Smith@corp.example.com'],
      },
      activeDirectory,
    );

    expect(user?.email).toBe('ann.smith@corp.example.com');
    expect(user?.problems).toEqual([
      {
        field: 'email',
        attribute: 'mail',
        value: 'ann smith@corp.example.com',
        problem: 'holds a space',
        resembles: 'annsmith@corp.example.com',
      },
    ]);
  });

  it.each([
    ['two @', 'ann@@corp.example.com', 'is not an address (one @ between a name and a domain)'],
    ['no @', 'ann.corp.example.com', 'is not an address (one @ between a name and a domain)'],
    ['no name', '@corp.example.com', 'is not an address (one @ between a name and a domain)'],
    ['a dot-dot domain', 'ann@corp..example.com', 'has a malformed domain'],
    ['ESC', 'ann\u001b[2K@corp.example.com', 'holds a control character'],
  ])(
    'skips an entry whose only address is malformed (%s), listing it as unusable',
    (_label, mail, problem) => {
      const { user, unusable, warnings } = map({ mail: [mail] });

      expect(user).toBeUndefined();
      expect(unusable).toEqual([
        { dn: DN, problems: [expect.objectContaining({ field: 'email', problem }) as unknown] },
      ]);
      expect(warnings.at(-1)?.message).toBe(
        'no usable mail or alias address: the entry matches nobody and is skipped',
      );
    },
  );

  it.each(['jöe@corp.example.com', 'joe@bücher.example', 'o.k@corp.example.com'])(
    'keeps a well-formed address with letters outside ASCII or dots in the name: %s',
    (mail) => {
      const { user } = map({ mail: [mail] });

      expect(user?.email).toBe(mail);
      expect(user?.problems).toBeUndefined();
    },
  );

  it.each(['joe@corp.example.com.', 'joe@.corp.example.com', 'jöe@corp..example.com'])(
    'refuses a malformed domain: %s',
    (mail) => {
      const { unusable } = map({ mail: [mail] });

      expect(unusable[0]?.problems[0]?.problem).toBe('has a malformed domain');
    },
  );

  it('leaves a malformed alias out, and reports it', () => {
    const { user } = map(
      {
        mail: ['ann@corp.example.com'],
        proxyAddresses: ['smtp:ann@corp.example.com', 'smtp:a nn@corp.example.com'],
        userPrincipalName: ['ann@corp.local'],
      },
      activeDirectory,
    );

    expect(user?.aliases).toEqual(['ann@corp.local']);
    expect(user?.problems).toEqual([
      expect.objectContaining({
        field: 'aliases',
        attribute: 'proxyAddresses',
        value: 'smtp:a nn@corp.example.com',
      }) as unknown,
    ]);
  });

  it('skips a typed address that is not SMTP even when it spans lines and holds an @', () => {
    const { user } = map(
      {
        mail: ['ann@corp.example.com'],
        proxyAddresses: ['X500:/o=Corp/cn=ann\n@corp', 'smtp:ann@corp.example.com'],
      },
      activeDirectory,
    );

    expect(user?.problems).toBeUndefined();
    expect(user !== undefined && isKnown(user, 'aliases')).toBe(true);
  });
});

describe('attributes read in part (ranged retrieval)', () => {
  it('makes smart cards unknown when the server sent only a first range', () => {
    const { user } = map({ mail: ['ann@x.com'], 'employeeNumber;range=0-1499': ['1', '2'] });

    expect(user !== undefined && isKnown(user, 'smartcards')).toBe(false);
    expect(user?.problems).toEqual([
      {
        field: 'smartcards',
        attribute: 'employeeNumber',
        value: '',
        problem: 'was read in part (the server sent the range 0-1499 and the rest was not read)',
      },
    ]);
  });

  it('makes aliases unknown when proxyAddresses came back in part', () => {
    const { user } = map(
      {
        mail: ['ann@corp.example.com'],
        'proxyAddresses;range=0-1499': ['smtp:a@corp.example.com'],
      },
      activeDirectory,
    );

    expect(user !== undefined && isKnown(user, 'aliases')).toBe(false);
    expect(user?.email).toBe('ann@corp.example.com');
  });

  it('uses a range that ends the attribute (`;range=0-*`) as complete', () => {
    const { user } = map({ mail: ['ann@x.com'], 'uid;range=0-*': ['ann', 'asmith'] });

    expect(user?.logins).toEqual(['ann', 'asmith']);
    expect(user?.problems).toBeUndefined();
  });
});

describe('LDIF source', () => {
  it('logs each value it cannot use with the DN, and lists unusable entries', async () => {
    // Arrange
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-unusable-'));
    const file = join(dir, 'people.ldif');
    writeFileSync(
      file,
      [
        'dn: uid=ann,ou=People,dc=x',
        'objectClass: inetOrgPerson',
        'uid: ann',
        'mail: ann@x.com',
        'employeeNumber: AB-77',
        '',
        'dn: uid=bob,ou=People,dc=x',
        'objectClass: inetOrgPerson',
        'uid: bob',
        // base64: "bob\x1b[2K@x.com"
        `mail:: ${Buffer.from('bob\u001b[2K@x.com').toString('base64')}`,
        '',
      ].join('\n'),
    );
    let logged = '';
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });
    const source = new LdifSource(
      LdifSourceConfig.parse({
        type: 'ldif',
        file,
        users: { baseDns: ['ou=People,dc=x'] },
        groups: { baseDns: ['ou=People,dc=x'] },
        attributes: { smartcards: 'employeeNumber' },
      }),
      () => NOW,
      createLogger({ level: 'warn', format: 'json', stream }),
    );

    // Act
    const snapshot = await source.read({ groupsOfInterest: [] });

    // Assert
    const lines = logged
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        dn: 'uid=ann,ou=People,dc=x',
        problem: expect.stringContaining('employeeNumber value "AB-77"') as unknown,
      }),
      expect.objectContaining({
        dn: 'uid=bob,ou=People,dc=x',
        problem: expect.stringContaining('mail value "bob\\x1b[2K@x.com"') as unknown,
      }),
      expect.objectContaining({ dn: 'uid=bob,ou=People,dc=x' }),
    ]);
    expect(snapshot.unusable).toEqual([
      { dn: 'uid=bob,ou=People,dc=x', problems: [expect.objectContaining({ field: 'email' })] },
    ]);
    expect(snapshot.users.map((u) => u.email)).toEqual(['ann@x.com']);
  });
});
