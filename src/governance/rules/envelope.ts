import type { RuleContext } from '../context.ts';
import type { Findings } from '../findings.ts';
import { writeScopeRank } from '../policy.ts';

/**
 * The requested envelope must lie within the policy bounds and allowlist (checked in resolveEnvelope);
 * the resulting budget must fit the steps, and grant the write scope every tool needs.
 */
export function envelopeRule(ctx: RuleContext, out: Findings): void {
  const env = ctx.envelope;
  for (const issue of env.issues) out.add(issue.code, issue.message);
  const scopeRank = writeScopeRank(env.budget.maxWriteScope);
  ctx.spec.steps.forEach((step, i) => {
    const tool = ctx.tools[i];
    if (tool !== undefined && tool.writeRank > scopeRank) {
      out.add('WRITE_SCOPE_INSUFFICIENT', `steps[${i}].tool ${step.tool} needs write scope ${tool.spec.minWriteScope}; the envelope grants ${env.budget.maxWriteScope}.`);
    }
  });
  const n = ctx.spec.steps.length;
  const { maxSteps, maxToolCalls } = env.budget;
  if (n > maxSteps || n > maxToolCalls) {
    out.add(
      'BUDGET_BELOW_STEP_COUNT',
      `${n} steps do not fit the effective budget (maxSteps ${maxSteps}, maxToolCalls ${maxToolCalls} after the ${ctx.cleanup.cost} cleanup-cost multiplier of ${ctx.cleanup.budgetMultiplierPercent}%).`,
    );
  }
  if (env.clamped.length > 0) out.add('OPEN_WEIGHT_CLAMPED', `Open-weight model: envelope tightened to ${env.clamped.join(', ')}.`);
}
