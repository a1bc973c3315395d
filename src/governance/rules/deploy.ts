import { BIT_DEPLOY } from '../effect-set.ts';
import type { RuleContext } from '../context.ts';
import type { Findings } from '../findings.ts';

/** DEPLOY always needs a human. */
export function deployRule(ctx: RuleContext, out: Findings): void {
  if (ctx.effects & BIT_DEPLOY) out.add('DEPLOY_REQUIRES_HUMAN', 'DEPLOY requires human approval.');
}
