import type { RuleContext } from '../context.ts';
import { quote, type Findings } from '../findings.ts';

/**
 * Defensive shape checks. The API server's schema already enforces these; the engine re-checks the few
 * that would otherwise turn into permission (an empty effect list would be "read-only").
 */
export function proposalShapeRule(ctx: RuleContext, out: Findings): void {
  const spec = ctx.spec;
  if (spec.effects.length === 0) out.add('PROPOSAL_INVALID', 'spec.effects is empty: a proposal must declare at least one effect.');
  for (const e of ctx.unknownEffects) out.add('PROPOSAL_INVALID', `spec.effects: ${quote(e)} is not an effect tag.`);
  if (spec.steps.length === 0) out.add('PROPOSAL_INVALID', 'spec.steps is empty: a proposal must have at least one step.');
  const risk = spec.riskScore;
  if (risk !== undefined && !(typeof risk === 'number' && risk >= 0 && risk <= 1)) {
    out.add('PROPOSAL_INVALID', `spec.riskScore ${String(risk)} is not a number in [0, 1].`);
  }
  if (!ctx.executionModeValid) {
    out.add('PROPOSAL_INVALID', `spec.reversibility.executionMode ${quote(String(spec.reversibility?.executionMode))} is not commit, draft or preview.`);
  }
  spec.steps.forEach((step, i) => {
    // Step arguments end up in the hashed envelope; a lone surrogate has no canonical form.
    for (const [k, v] of Object.entries(step.args)) {
      if (typeof v !== 'string' || !v.isWellFormed()) out.add('PROPOSAL_INVALID', `steps[${i}].args.${k} is not a well-formed string.`);
    }
  });
  const cost = spec.reversibility?.cleanupCost;
  if (cost !== undefined && cost !== 'LOW' && cost !== 'MEDIUM' && cost !== 'HIGH') {
    out.add('PROPOSAL_INVALID', `spec.reversibility.cleanupCost ${quote(String(cost))} is not LOW, MEDIUM or HIGH.`);
  }
}
