import type { RuleContext } from '../context.ts';
import type { Findings } from '../findings.ts';
import { reversibilityGate } from '../reversibility.ts';

/** Reversibility gate (see ../reversibility.ts); cleanup cost is applied to the envelope budget. */
export function reversibilityRule(ctx: RuleContext, out: Findings): void {
  for (const f of reversibilityGate(ctx.readOnly, ctx.spec.reversibility, ctx.catalogue)) out.add(f.code, f.message);
}
