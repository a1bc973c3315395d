/** Public API of the governance engine (pure, no I/O). */
export { evaluate, EvaluationInputError, RULES } from './evaluate.ts';
export type { EvaluationInput, EvaluationResult, HistoryEntry, PolicyInput, ProposalInput, SessionHistory } from './types.ts';
export { ENGINE_VERSION } from './version.ts';
export { ALL_REASON_CODES, REASON_CODES, type ReasonCode } from './codes.ts';
export { checkRate, type RateVerdict } from './rate.ts';
export { challengeId, makeChallenge, verifyChallenge } from './challenge.ts';
export {
  countDistinctApprovers,
  quorumState,
  validateApproval,
  type AcceptedApproval,
  type ApprovalInput,
  type ApprovalRejection,
  type ApprovalVerdict,
  type QuorumState,
} from './approval.ts';
export { compilePolicy, PolicyError, validatePolicy } from './policy.ts';
export { sessionHistoryFor, type SessionRecord } from './topology.ts';
export { normalisePath, WORKSPACE } from './paths.ts';
export { decisionSpecFrom } from './decision-spec.ts';
export { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from './defaults.ts';
export { mostSevere, SEVERITY } from './severity.ts';
