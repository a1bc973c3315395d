import { z } from 'zod';
import { effectSet } from './effects.ts';
import { EffectiveEnvelope } from './envelope.ts';
import { boundedList, Conditions, IMMUTABLE_SPEC, nonEmptyText, ObjectRef, sha256Hex, text, timestamp } from './primitives.ts';

export const OUTCOMES = ['ALLOW', 'DENY', 'REQUIRE_HUMAN', 'NEED_MORE_EVIDENCE'] as const;
export const Outcome = z.enum(OUTCOMES).meta({ description: 'ALLOW, DENY, REQUIRE_HUMAN or NEED_MORE_EVIDENCE.' });
export type Outcome = z.infer<typeof Outcome>;

export const Reason = z
  .object({
    code: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Z][A-Z0-9_]*$/)
      .meta({ description: 'Stable reason code (see docs/policy.md).' }),
    rule: nonEmptyText(64, 'The rule that produced the finding.'),
    outcome: Outcome,
    message: text(2048, 'Human-readable explanation.'),
  })
  .meta({ description: 'One finding of the decision procedure.' });
export type Reason = z.infer<typeof Reason>;

export const Challenge = z
  .object({
    prompt: nonEmptyText(1024, 'What the approver must answer.'),
    id: sha256Hex('HMAC-SHA256(secret, proposalHash:expectedAnswer); binds the challenge to this proposal.'),
  })
  .meta({ description: 'A risk the approver must acknowledge by answering the prompt.' });
export type Challenge = z.infer<typeof Challenge>;

export const DecisionSpec = z
  .object({
    proposalRef: ObjectRef,
    proposalHash: sha256Hex('Hash of the Proposal spec this decision is about.'),
    submittedBy: nonEmptyText(253, 'The authenticated submitter (the session key of the topology rule).'),
    agent: nonEmptyText(253, 'The AgentProfile the proposal named.'),
    effects: effectSet('The effects the proposal declared.'),
    outcome: Outcome,
    reasons: boundedList(Reason, 64, 'Every finding of the decision procedure, not only the first.'),
    allowedEffects: effectSet('Effects the resulting job may have.'),
    requiredApprovals: z
      .object({ count: z.int().min(0).max(10).meta({ description: 'Number of distinct valid approvers needed.' }) })
      .meta({ description: 'Approvals needed before a job is minted.' }),
    challenge: Challenge.optional(),
    expiresAt: timestamp('After this time approvals are rejected and the proposal expires.').optional(),
    policy: z
      .object({
        generation: z.int().min(0).meta({ description: 'metadata.generation of the GovernancePolicy used.' }),
        hash: sha256Hex('SHA-256 of the canonical GovernancePolicy spec used.'),
      })
      .meta({ description: 'The policy the decision was made under.' }),
    engineVersion: nonEmptyText(64, 'Version of the decision engine.'),
    effectiveEnvelope: EffectiveEnvelope.optional(),
    envelopeHash: sha256Hex('DEH: SHA-256 of the RFC 8785 form of effectiveEnvelope.').optional(),
    decidedAt: timestamp('When the decision was made.'),
  })
  .meta({ description: 'The recorded decision about one proposal. Written by the controller only; immutable.', 'x-kubernetes-validations': IMMUTABLE_SPEC });
export type DecisionSpec = z.infer<typeof DecisionSpec>;
/** A Decision spec without its effective envelope (what the controller's cache keeps; only minting reads the envelope). */
export type DecisionSpecView = Omit<DecisionSpec, 'effectiveEnvelope'>;

export const DecisionStatus = z
  .object({
    conditions: Conditions.optional(),
  })
  .meta({ description: 'Observed state of the decision.' });
