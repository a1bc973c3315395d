import { BIT_OTHER } from '../effect-set.ts';
import type { RuleContext } from '../context.ts';
import type { Findings } from '../findings.ts';

/** OTHER means the agent cannot say what the effect is: a human must look. */
export function otherEffectRule(ctx: RuleContext, out: Findings): void {
  if (ctx.effects & BIT_OTHER) out.add('OTHER_EFFECT_REQUIRES_HUMAN', 'Effect OTHER (not in the taxonomy) requires human approval.');
}
