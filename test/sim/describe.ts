import type { RunFaults } from './gateway.js';
import type { HandOp, Scenario } from './model.js';

function faults(f: RunFaults): string {
  const parts: string[] = [];
  if (f.rate429 > 0) parts.push(`429 ${f.rate429}`);
  if (f.rate5xx > 0) parts.push(`5xx ${f.rate5xx}`);
  if (f.dropAfterCommit > 0) parts.push(`lost answers ${f.dropAfterCommit}`);
  if (f.badGatewayAfterCommit > 0) parts.push(`502 after commit ${f.badGatewayAfterCommit}`);
  if (f.toggleLatencyMs > 0) parts.push(`toggles take ${f.toggleLatencyMs} ms`);
  if (f.cacheListingsMs > 0) parts.push(`listings cached ${f.cacheListingsMs} ms`);
  const dup = f.duplicateRows;
  if (dup.emailIds.length > 0 || dup.churned)
    parts.push(
      `rows of ${[...dup.emailIds.map(String), ...(dup.churned ? ['the churned'] : [])].join(', ')} repeated (${dup.into})`,
    );
  return parts.join(', ');
}

const hand = (op: HandOp): string =>
  op.kind === 'rank'
    ? `rank p${op.who} ${op.rank}`
    : op.kind === 'invite'
      ? `invite p${op.who}${op.guest ? ' as guest' : ''}`
      : `${op.kind} p${op.who}`;

/** A scenario as lines a person can read: one per run, up to `upTo`. */
export function describeScenario(scenario: Scenario, upTo = scenario.steps.length): string {
  return scenario.steps
    .slice(0, upTo)
    .map((s, i) => {
      const parts = [`+${s.advanceHours}h`];
      if (s.churn.length > 0)
        parts.push(`directory: ${s.churn.map((c) => `${c.kind} p${c.who}`).join(', ')}`);
      if (s.handBefore.length > 0) parts.push(`by hand: ${s.handBefore.map(hand).join(', ')}`);
      if (s.handDuring !== null)
        parts.push(
          `by hand after ${s.handDuring.afterResults} results: ${s.handDuring.ops.map(hand).join(', ')}`,
        );
      const f = faults(s.faults);
      if (f !== '') parts.push(`faults: ${f}`);
      if (s.crash !== null)
        parts.push(`crash at write ${s.crash.atWrite}${s.crash.inFlight ? ' (in flight)' : ''}`);
      if (s.smallBudgets) parts.push('small budgets');
      return `  run ${i + 1}: ${parts.join('; ')}`;
    })
    .join('\n');
}
