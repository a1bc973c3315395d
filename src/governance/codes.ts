import type { Outcome } from '../api/decision.ts';

/**
 * Every reason code the engine can emit, with the rule that emits it, the outcomes it can carry and the
 * policy field that configures it. Codes are stable identifiers: dashboards, alerts and `m87 explain` key
 * on them, so never rename one; add a new code instead. docs/policy.md documents each (a test checks it).
 */
export interface CodeInfo {
  rule: string;
  outcomes: readonly Outcome[];
  /** The GovernancePolicy / AgentProfile / Tool field that configures the rule ('-' when fixed). */
  field: string;
}

export const REASON_CODES = {
  PROPOSAL_INVALID: { rule: 'proposal', outcomes: ['DENY'], field: '-' },
  AGENT_UNKNOWN: { rule: 'identity', outcomes: ['DENY'], field: 'AgentProfile' },
  SUBMITTER_NOT_AGENT_SUBJECT: { rule: 'identity', outcomes: ['DENY'], field: 'AgentProfile.spec.subjects' },
  QUARANTINE_TIER: { rule: 'quarantine', outcomes: ['DENY'], field: 'spec.quarantineTier' },
  READ_SECRETS_FORBIDDEN: { rule: 'secrets', outcomes: ['DENY'], field: '-' },
  VIRTUAL_FS_DENIED: { rule: 'virtual-fs', outcomes: ['DENY'], field: 'spec.virtualFilesystem' },
  VIRTUAL_FS_NOT_IN_ALLOWLIST: { rule: 'virtual-fs', outcomes: ['DENY'], field: 'spec.virtualFilesystem[].allowedPaths' },
  PATH_INVALID: { rule: 'virtual-fs', outcomes: ['DENY'], field: '-' },
  PATH_OUTSIDE_WORKSPACE: { rule: 'virtual-fs', outcomes: ['DENY'], field: 'Tool.spec.args[].pathLike, format patch' },
  TOOL_UNKNOWN: { rule: 'effect-drift', outcomes: ['DENY'], field: 'Tool' },
  TOOL_INVALID: { rule: 'effect-drift', outcomes: ['DENY'], field: 'Tool.spec' },
  TOOL_EFFECT_UNDECLARED: { rule: 'effect-drift', outcomes: ['DENY'], field: 'Tool.spec.effects' },
  TOOL_ARGS_INVALID: { rule: 'effect-drift', outcomes: ['DENY'], field: 'Tool.spec.args' },
  TOOL_EXECUTION_MODE_UNSUPPORTED: { rule: 'effect-drift', outcomes: ['DENY'], field: 'Tool.spec.executionModes' },
  EFFECT_NOT_ALLOWED_FOR_AGENT: { rule: 'agent-scope', outcomes: ['DENY'], field: 'AgentProfile.spec.allowedEffects' },
  EVIDENCE_INSUFFICIENT: { rule: 'evidence', outcomes: ['NEED_MORE_EVIDENCE'], field: 'spec.evidence.minObservationsForNonRead' },
  CLAIM_CONFIDENCE_INVALID: { rule: 'evidence', outcomes: ['NEED_MORE_EVIDENCE'], field: '-' },
  RISK_ABOVE_AGENT_MAX: { rule: 'risk', outcomes: ['REQUIRE_HUMAN'], field: 'AgentProfile.spec.maxRisk' },
  DEPLOY_REQUIRES_HUMAN: { rule: 'deploy', outcomes: ['REQUIRE_HUMAN'], field: '-' },
  OTHER_EFFECT_REQUIRES_HUMAN: { rule: 'other-effect', outcomes: ['REQUIRE_HUMAN'], field: '-' },
  TOXIC_TOPOLOGY: { rule: 'topology', outcomes: ['DENY', 'REQUIRE_HUMAN'], field: 'spec.toxicPairs, spec.session.windowSeconds' },
  SESSION_HISTORY_UNKNOWN: { rule: 'topology', outcomes: ['REQUIRE_HUMAN'], field: '-' },
  TRIPWIRE: { rule: 'tripwires', outcomes: ['REQUIRE_HUMAN'], field: 'spec.tripwires.patterns, spec.tripwires.scannedTypes' },
  CODE_TOO_LARGE: { rule: 'tripwires', outcomes: ['DENY'], field: 'spec.tripwires.maxCodeBytes' },
  REVERSIBILITY_CLASS_MISSING: { rule: 'reversibility', outcomes: ['DENY'], field: '-' },
  ROLLBACK_PROOF_MISSING: { rule: 'reversibility', outcomes: ['DENY'], field: '-' },
  ROLLBACK_PROOF_INVALID: { rule: 'reversibility', outcomes: ['DENY'], field: 'Tool' },
  PARTIAL_COMMIT_NEEDS_ROLLBACK_PROOF: { rule: 'reversibility', outcomes: ['DENY'], field: '-' },
  IRREVERSIBLE_REQUIRES_HUMAN: { rule: 'reversibility', outcomes: ['REQUIRE_HUMAN'], field: '-' },
  ENVELOPE_INVALID: { rule: 'envelope', outcomes: ['DENY'], field: '-' },
  ENVELOPE_OUT_OF_BOUNDS: { rule: 'envelope', outcomes: ['DENY'], field: 'spec.envelope.ceiling' },
  EGRESS_NOT_ALLOWED: { rule: 'envelope', outcomes: ['DENY'], field: 'spec.envelope.allowedEgress' },
  WRITE_SCOPE_INSUFFICIENT: { rule: 'envelope', outcomes: ['DENY'], field: 'Tool.spec.minWriteScope' },
  REPOSITORY_HOST_NOT_IN_EGRESS: { rule: 'envelope', outcomes: ['DENY'], field: 'Tool.spec.workspace.git, spec.envelope.allowedEgress' },
  BUDGET_BELOW_STEP_COUNT: { rule: 'envelope', outcomes: ['DENY'], field: 'spec.reversibility.cleanupCost' },
  OPEN_WEIGHT_CLAMPED: { rule: 'envelope', outcomes: ['ALLOW'], field: '-' },
  ALLOWED: { rule: 'result', outcomes: ['ALLOW'], field: '-' },
  REASONS_TRUNCATED: { rule: 'result', outcomes: ['DENY', 'NEED_MORE_EVIDENCE', 'REQUIRE_HUMAN', 'ALLOW'], field: '-' },
} as const satisfies Record<string, CodeInfo>;

export type ReasonCode = keyof typeof REASON_CODES;

export const ALL_REASON_CODES = Object.keys(REASON_CODES) as ReasonCode[];
