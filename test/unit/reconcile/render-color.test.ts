import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { renderPlan, useColor } from '../../../src/reconcile/render.js';
import { aPlan, anAction } from './builders.js';

function aStream(tty: boolean): NodeJS.WritableStream {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (tty) stream.isTTY = true;
  return stream;
}

describe('colour', () => {
  it.each([
    [true, {}, true],
    [false, {}, false],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: '' }, true],
  ])('tty %s with env %j -> colour %s', (tty, env, expected) => {
    expect(useColor(aStream(tty), env)).toBe(expected);
  });

  it('paints action lines only when asked', () => {
    const plan = aPlan({ actions: [anAction({ kind: 'remove', before: 'ACTIVE', after: null })] });
    expect(renderPlan(plan, { color: true })).toContain('\x1b[31m- remove\x1b[0m');
    expect(renderPlan(plan)).not.toContain('\x1b[');
  });
});
