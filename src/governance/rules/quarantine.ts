import { tagsOf } from '../effect-set.ts';
import type { RuleContext } from '../context.ts';
import type { Findings } from '../findings.ts';
import { TIER_NAMES } from '../policy.ts';

/** Degradation tiers: 1 allows only read-only effects, 2 only READ_REPO/READ_CONFIG, 3 nothing. */
export function quarantineRule(ctx: RuleContext, out: Findings): void {
  const { tier, tierAllowed } = ctx.policy;
  if (tier === 0) return;
  const forbidden = ctx.effects & ~tierAllowed;
  if (forbidden === 0 && ctx.unknownEffects.length === 0 && tier < 3) return;
  const listed = [...tagsOf(forbidden), ...ctx.unknownEffects];
  out.add('QUARANTINE_TIER', `Quarantine tier ${tier} (${TIER_NAMES[tier] ?? 'UNKNOWN'}) does not permit ${listed.join(', ') || 'any effect'}.`);
}
