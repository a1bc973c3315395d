import { tagsOf } from '../effect-set.ts';
import type { RuleContext } from '../context.ts';
import { quote, type Findings } from '../findings.ts';

/** Declared effects must be a subset of the AgentProfile's allowed effects. */
export function agentScopeRule(ctx: RuleContext, out: Findings): void {
  if (ctx.profile === undefined) return; // identity already denies
  const extra = ctx.effects & ~ctx.profile.allowed;
  if (extra !== 0) out.add('EFFECT_NOT_ALLOWED_FOR_AGENT', `AgentProfile ${quote(ctx.spec.agent)} is not allowed ${tagsOf(extra).join(', ')}.`);
}
