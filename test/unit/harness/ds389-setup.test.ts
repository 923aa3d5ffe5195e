import { describe, expect, it } from 'vitest';
import { ds389OrSkip } from '../../support/ds389.js';

describe('ds389OrSkip', () => {
  it('fails a 389-DS test file given no server in CI', () => {
    expect(() => ds389OrSkip(undefined, true)).toThrow(
      'CI=true but the global setup provided no 389 Directory Server',
    );
  });

  it('skips locally, and passes a provided server through', () => {
    const server = { url: 'ldap://127.0.0.1:1' };
    expect([ds389OrSkip(undefined, false), ds389OrSkip(server, true)]).toEqual([undefined, server]);
  });
});
