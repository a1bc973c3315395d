import { BIT_READ_SECRETS } from '../effect-set.ts';
import type { RuleContext } from '../context.ts';
import type { Findings } from '../findings.ts';

/** READ_SECRETS is never granted; there is no override. */
export function secretsRule(ctx: RuleContext, out: Findings): void {
  if (ctx.effects & BIT_READ_SECRETS) out.add('READ_SECRETS_FORBIDDEN', 'READ_SECRETS is forbidden; no policy or approval can grant it.');
}
