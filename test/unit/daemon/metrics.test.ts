import { describe, expect, it } from 'vitest';
import { DaemonMetrics } from '../../../src/daemon/metrics.js';
import { ACTION_ORDER } from '../../../src/reconcile/model.js';

describe('dirsync_actions_total', () => {
  it('has a zero series for every kind and outcome before anything is applied', async () => {
    const metrics = new DaemonMetrics({ processMetrics: false });

    const text = await metrics.registry.metrics();

    for (const kind of ACTION_ORDER)
      for (const outcome of ['applied', 'unchanged', 'failed', 'skipped', 'unclear'])
        expect(text).toContain(`dirsync_actions_total{kind="${kind}",outcome="${outcome}"} 0\n`);
  });

  it('counts on from zero', async () => {
    const metrics = new DaemonMetrics({ processMetrics: false });

    metrics.actions.inc({ kind: 'suspend', outcome: 'failed' });

    const text = await metrics.registry.metrics();
    expect(text).toContain('dirsync_actions_total{kind="suspend",outcome="failed"} 1\n');
  });
});
