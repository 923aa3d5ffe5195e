import { describe, expect, it } from 'vitest';
import { firstRdnValue, isUnder, normalizeDn, normalizeDnSlow } from '../../../src/directory/dn.js';
import { compileFilter } from '../../../src/directory/filter.js';
import { parseLdif } from '../../../src/directory/ldif/parse.js';
import { values, type RawEntry } from '../../../src/directory/model.js';
import { DirectoryError } from '../../../src/errors.js';

function anEntry(dn: string, attrs: Record<string, string[]>): RawEntry {
  return { dn, attributes: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), v])) };
}

describe('normalizeDn', () => {
  it.each([
    ['CN=Joe  Smith , OU=People,DC=Example,DC=com', 'cn=joe  smith,ou=people,dc=example,dc=com'],
    ['cn=joe  smith,ou=people,dc=example,dc=com', 'cn=joe  smith,ou=people,dc=example,dc=com'],
    ['CN=Smith\\, Joe,OU=People,DC=x', 'cn=smith\\, joe,ou=people,dc=x'],
    ['CN=Smith\\2C Joe,OU=People,DC=x', 'cn=smith\\, joe,ou=people,dc=x'],
    ['cn=a+uid=b,dc=x', 'cn=a+uid=b,dc=x'],
    ['uid=b+cn=a,dc=x', 'cn=a+uid=b,dc=x'],
    ['CN=J\\C3\\B6rg,DC=x', 'cn=jörg,dc=x'],
    ['', ''],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeDn(input)).toBe(expected);
  });

  it('tells whether a DN lies under a base', () => {
    expect(isUnder(normalizeDn('uid=a,ou=People,dc=x'), normalizeDn('OU=people, DC=X'))).toBe(true);
    expect(isUnder(normalizeDn('uid=a,ou=Staff,dc=x'), normalizeDn('ou=people,dc=x'))).toBe(false);
    expect(isUnder('ou=xpeople,dc=x', 'ou=people,dc=x')).toBe(false);
  });

  it('reads the first RDN value', () => {
    expect(firstRdnValue('CN=IT Admins\\, Tier 1,OU=Groups,DC=x')).toBe('IT Admins, Tier 1');
  });
});

describe('compileFilter', () => {
  const joe = anEntry('uid=joe,dc=x', {
    objectClass: ['top', 'person', 'inetOrgPerson'],
    mail: ['Joe@Example.com'],
    uidNumber: ['1500'],
    objectCategory: ['CN=Person,CN=Schema,CN=Configuration,DC=x'],
  });
  it.each([
    ['(objectClass=inetOrgPerson)', true],
    ['(objectclass=INETORGPERSON)', true],
    ['(objectClass=group)', false],
    ['(&(objectClass=person)(mail=*))', true],
    ['(|(objectClass=group)(mail=joe@*))', true],
    ['(!(mail=*))', false],
    ['(mail=*@example.com)', true],
    ['(mail=j*e*com)', true],
    ['(uidNumber>=1000)', true],
    ['(uidNumber<=999)', false],
    ['(&(objectCategory=person)(objectClass=person))', true],
  ])('%s matches: %s', (filter, expected) => {
    expect(compileFilter(filter)(joe)).toBe(expected);
  });

  it('refuses an extensible match it cannot evaluate', () => {
    expect(() => compileFilter('(memberOf:1.2.840.113556.1.4.1941:=cn=g,dc=x)')).toThrow(
      /extensible/,
    );
  });
});

describe('parseLdif', () => {
  it('reads comments, folded lines, base64 values and several records', () => {
    const text = [
      'version: 1',
      '# a comment',
      '#  that folds',
      'dn: uid=joe,ou=People,',
      ' dc=example,dc=com',
      'objectClass: inetOrgPerson',
      'cn:: ' + Buffer.from('Jörg Dev').toString('base64'),
      'description: a long value that',
      '  continues',
      '',
      '',
      'dn:: ' + Buffer.from('uid=zoë,dc=example,dc=com').toString('base64'),
      'changetype: add',
      'mail: zoe@example.com',
      '',
    ].join('\n');
    const entries = parseLdif(text, 'test.ldif');
    expect(entries.map((e) => e.dn)).toEqual([
      'uid=joe,ou=People,dc=example,dc=com',
      'uid=zoë,dc=example,dc=com',
    ]);
    expect(values(entries[0]!, 'cn')).toEqual(['Jörg Dev']);
    expect(values(entries[0]!, 'description')).toEqual(['a long value that continues']);
    expect(values(entries[1]!, 'mail')).toEqual(['zoe@example.com']);
  });

  it('keeps binary attributes as bytes', () => {
    const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const entries = parseLdif(`dn: cn=a,dc=x\nobjectGUID:: ${guid.toString('base64')}\n`, 'x', [
      'objectguid',
    ]);
    expect(entries[0]?.attributes.get('objectguid')?.[0]).toEqual(guid);
  });

  it.each([
    ['dn: cn=a,dc=x\nchangetype: delete\n', 'line 2', 'changetype: delete'],
    ['mail: a@b\n', 'line 1', 'must start with dn:'],
    ['dn: cn=a,dc=x\nnot a line\n', 'line 2', 'expected "attribute: value"'],
    ['dn: cn=a,dc=x\njpegPhoto:< file:///etc/passwd\n', 'line 2', 'external file'],
  ])('refuses %j naming the line', (text, line, message) => {
    let error: unknown;
    try {
      parseLdif(text, 'bad.ldif');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as Error).message).toContain(`bad.ldif, ${line}`);
    expect((error as Error).message).toContain(message);
  });
});

describe('normalizeDn fast path', () => {
  it('gives the same result as the full parser on DNs built from awkward characters', () => {
    // A small deterministic generator: letters, spaces, escapes, quotes, plus and hash.
    let seed = 42;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const pieces = ['a', 'B', ' ', '\\,', '\\2C', '"', '+', '#', 'é', '-', '=', 'x y', '\\ '];
    for (let i = 0; i < 5000; i++) {
      const rdns = Array.from({ length: 1 + next(4) }, () => {
        const value = Array.from({ length: 1 + next(5) }, () => pieces[next(pieces.length)]).join(
          '',
        );
        return `${['cn', 'OU', 'dc', 'uid'][next(4)]}${next(3) === 0 ? ' ' : ''}=${value}`;
      });
      const dn = rdns.join(next(4) === 0 ? ', ' : ',');
      expect(normalizeDn(dn), dn).toBe(normalizeDnSlow(dn));
    }
  });
});

describe('normalizeDn and escaped spaces', () => {
  it('keeps an escaped trailing space and drops unescaped ones', () => {
    expect(normalizeDn('CN=x\\ ,DC=y')).toBe('cn=x\\ ,dc=y');
    expect(normalizeDn('CN=x  ,DC=y')).toBe('cn=x,dc=y');
    expect(normalizeDn('CN=x\\\\ ,DC=y')).toBe('cn=x\\\\,dc=y');
  });
});
