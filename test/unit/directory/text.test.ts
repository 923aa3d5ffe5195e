import { describe, expect, it } from 'vitest';
import { lower, trimmed } from '../../../src/directory/text.js';

describe('lower and trimmed', () => {
  it('give what toLowerCase and trim give', () => {
    const samples = [
      '',
      'abc',
      'ABC',
      'uid=User,ou=People',
      'ÉLODIE',
      'zoë',
      ' a ',
      '\ta\n',
      'a\u00a0',
      '\u3000x',
      'x',
    ];
    for (const s of samples) {
      expect(lower(s)).toBe(s.toLowerCase());
      expect(trimmed(s)).toBe(s.trim());
    }
  });

  it('return the very string when there is nothing to change', () => {
    const s = ['user', '000123'].join('');
    expect(Object.is(lower(s), s)).toBe(true);
    expect(Object.is(trimmed(s), s)).toBe(true);
  });
});
