import type { AgentProfileSpec } from '../api/agent-profile.ts';
import type { Challenge, Outcome, Reason } from '../api/decision.ts';
import type { EffectTag } from '../api/effects.ts';
import type { EffectiveEnvelope } from '../api/envelope.ts';
import type { GovernancePolicySpec } from '../api/governance-policy.ts';
import type { ProposalSpec } from '../api/proposal.ts';
import type { ToolCatalogue } from '../tool-catalogue/catalogue.ts';

/** The proposal being decided. Times are epoch milliseconds. */
export interface ProposalInput {
  namespace: string;
  name: string;
  uid: string;
  spec: ProposalSpec;
  /** proposalHash(spec), computed once by the caller. */
  hash: string;
  /** metadata.creationTimestamp in epoch milliseconds. */
  createdAt: number;
}

export interface PolicyInput {
  spec: GovernancePolicySpec;
  generation: number;
  hash: string;
}

/** One effect the submitter was authorized to perform (from an ALLOW decision or an approved job). */
export interface HistoryEntry {
  effect: EffectTag;
  /** When it was authorized, epoch milliseconds. */
  at: number;
}

/**
 * The submitter's recently authorized effects, keyed by the authenticated submitter (never the agent name).
 * `known: false` means the caller could not establish it (e.g. caches not synced): exfil-adjacent
 * proposals then escalate and are never allowed.
 */
export type SessionHistory = { known: true; entries: readonly HistoryEntry[] } | { known: false };

export interface EvaluationInput {
  proposal: ProposalInput;
  /** The AgentProfile named by spec.agent; undefined when it does not exist (→ DENY). */
  profile: AgentProfileSpec | undefined;
  policy: PolicyInput;
  history: SessionHistory;
  /** The clock, epoch milliseconds. */
  now: number;
  /** HMAC key for escalation challenges. */
  challengeSecret: string | Uint8Array;
  /** Runner container image written into the effective envelope. */
  runnerImage: string;
  /**
   * The tool catalogue (name → Tool spec) the steps are decided against: effect drift, write scope,
   * arguments, and the tool hash and image each envelope step binds. The caller supplies it from its cache
   * of Tool objects; there is no default: a step naming a tool that is not in it is denied (TOOL_UNKNOWN).
   */
  catalogue: ToolCatalogue;
}

export interface EvaluationResult {
  outcome: Outcome;
  /** Every finding, in rule order (at most 64; see REASONS_TRUNCATED). */
  reasons: Reason[];
  /** Effects the job may have: the declared effects for ALLOW / REQUIRE_HUMAN, none otherwise. */
  allowedEffects: EffectTag[];
  requiredApprovals: { count: number };
  /** Present for REQUIRE_HUMAN when the approver must acknowledge a topology, tripwire or blind-session risk. */
  challenge?: Challenge;
  /** RFC 3339; present for REQUIRE_HUMAN. */
  expiresAt?: string;
  /** What would run (ALLOW / REQUIRE_HUMAN only); its hash is the DEH. */
  effectiveEnvelope?: EffectiveEnvelope;
  envelopeHash?: string;
  budgetMultiplierPercent: number;
  retryLimit: number;
  policy: { generation: number; hash: string };
  engineVersion: string;
}
