import type { RuleContext } from '../context.ts';
import type { Findings } from '../findings.ts';

/** Non-read proposals must show their evidence; claim confidences must be probabilities. A superseding Proposal answers. */
export function evidenceRule(ctx: RuleContext, out: Findings): void {
  const ta = ctx.spec.truthAccount;
  const min = ctx.policy.spec.evidence.minObservationsForNonRead;
  if (!ctx.readOnly && min > 0) {
    let observed = 0;
    for (const o of ta.observations) if (o.trim() !== '') observed++;
    if (observed < min) {
      out.add('EVIDENCE_INSUFFICIENT', `Non-read effects need at least ${min} observation(s) in truthAccount.observations; ${observed} given. Submit a new Proposal with supersedes.`);
    }
  }
  ta.claims.forEach((c, i) => {
    if (!(typeof c.confidence === 'number' && c.confidence >= 0 && c.confidence <= 1)) {
      out.add('CLAIM_CONFIDENCE_INVALID', `truthAccount.claims[${i}].confidence ${String(c.confidence)} is not in [0, 1].`);
    }
  });
}
