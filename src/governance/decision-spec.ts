import type { DecisionSpec } from '../api/decision.ts';
import type { EvaluationInput, EvaluationResult } from './types.ts';

/** The Decision.spec recording an evaluation (decidedAt = the evaluation's clock). */
export function decisionSpecFrom(input: EvaluationInput, result: EvaluationResult): DecisionSpec {
  const spec: DecisionSpec = {
    proposalRef: { name: input.proposal.name, uid: input.proposal.uid },
    proposalHash: input.proposal.hash,
    submittedBy: input.proposal.spec.submittedBy,
    agent: input.proposal.spec.agent,
    effects: [...new Set(input.proposal.spec.effects)],
    outcome: result.outcome,
    reasons: result.reasons,
    allowedEffects: result.allowedEffects,
    requiredApprovals: result.requiredApprovals,
    policy: result.policy,
    engineVersion: result.engineVersion,
    decidedAt: new Date(input.now).toISOString(),
  };
  if (result.challenge !== undefined) spec.challenge = result.challenge;
  if (result.expiresAt !== undefined) spec.expiresAt = result.expiresAt;
  if (result.effectiveEnvelope !== undefined) spec.effectiveEnvelope = result.effectiveEnvelope;
  if (result.envelopeHash !== undefined) spec.envelopeHash = result.envelopeHash;
  return spec;
}
