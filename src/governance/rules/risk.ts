import type { RuleContext } from '../context.ts';
import { quote, type Findings } from '../findings.ts';

/** Risk above the agent's ceiling needs a human. A missing score counts as the ceiling itself, never as zero. */
export function riskRule(ctx: RuleContext, out: Findings): void {
  if (ctx.profile === undefined) return; // identity already denies
  const max = ctx.profile.spec.maxRisk;
  const risk = ctx.spec.riskScore ?? max;
  if (risk > max) out.add('RISK_ABOVE_AGENT_MAX', `Risk ${risk} exceeds AgentProfile ${quote(ctx.spec.agent)} maxRisk ${max}.`);
}
