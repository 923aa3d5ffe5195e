import { describe, expect, it } from 'vitest';
import { SafetyError } from '../../../src/errors.js';
import { railError } from '../../../src/reconcile/run.js';

describe('railError', () => {
  it('carries each rail that refused the plan with its message, as data', () => {
    const error = railError([
      { rail: 'maxDeletes', message: 'the plan removes 30 users (limit 25)', overridable: true },
      { rail: 'protectedUsers', message: 'would suspend a protected user: x', overridable: false },
    ]);

    expect(error).toBeInstanceOf(SafetyError);
    expect(error.refusals).toEqual([
      { rail: 'maxDeletes', message: 'the plan removes 30 users (limit 25)' },
      { rail: 'protectedUsers', message: 'would suspend a protected user: x' },
    ]);
    expect(error.rails).toEqual(['maxDeletes', 'protectedUsers']);
    expect(error.message).toBe(
      'safety rails refused the plan:\n  maxDeletes: the plan removes 30 users (limit 25)\n  protectedUsers: would suspend a protected user: x',
    );
  });

  it('a SafetyError made without rails names none', () => {
    const error = new SafetyError('safety rails refused the plan:\n  maxDeletes: looks like one');

    expect(error.refusals).toEqual([]);
    expect(error.rails).toEqual([]);
  });
});
