import { describe, expect, it } from 'vitest';
import { appliedHeadline } from '../../../src/cli/commands.js';

const sent = (...outcomes: string[]) =>
  outcomes.map((outcome) => ({ kind: 'set_rank', email: 'amy@corp.example.com', outcome }));

describe("apply's headline", () => {
  it.each<{ when: string; actions: { outcome: string }[]; held: unknown[]; says: string }>([
    {
      when: 'every action was skipped',
      actions: sent('skipped', 'skipped', 'skipped'),
      held: [],
      says: '0 of 3 actions applied in 0.1 s:',
    },
    {
      when: 'one of two failed',
      actions: sent('applied', 'failed'),
      held: [],
      says: '1 of 2 actions applied in 0.1 s:',
    },
    {
      when: 'the one action applied',
      actions: sent('applied'),
      held: [],
      says: 'Applied 1 action in 0.1 s:',
    },
    { when: 'nothing was planned', actions: [], held: [], says: 'Nothing to apply (0.1 s).' },
    {
      when: 'everything was held back',
      actions: [],
      held: [{}],
      says: 'Nothing applied (0.1 s): every planned action was held back.',
    },
  ])('says what happened when $when', ({ actions, held, says }) => {
    expect(appliedHeadline({ durationMs: 120, actions, held })).toBe(says);
  });
});
