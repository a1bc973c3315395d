import { z } from 'zod';
import { effectSet } from './effects.ts';
import { CleanupCost, ExecutionMode, RequestedEnvelope, ReversibilityClass } from './envelope.ts';
import { boundedList, Conditions, IMMUTABLE_SPEC, nonEmptyText, ObjectRef, objectName, sha256Hex, Step, StepArgs, text } from './primitives.ts';

export const ARTIFACT_TYPES = ['file', 'diff', 'code', 'python_code', 'shell_script', 'document', 'log', 'other'] as const;

export const Artifact = z
  .object({
    type: z.enum(ARTIFACT_TYPES).meta({ description: `Artifact type: ${ARTIFACT_TYPES.join(', ')}. code, python_code and shell_script are scanned by the code tripwires.` }),
    path: text(4096, 'Path the artifact is written to or read from (checked against the virtual-filesystem rules).').optional(),
    source: text(4096, 'Source path or location (checked against the virtual-filesystem rules).').optional(),
    destination: text(4096, 'Destination path or location (checked against the virtual-filesystem rules).').optional(),
    target: text(4096, 'Target path or location (checked against the virtual-filesystem rules).').optional(),
    content: text(262144, 'Inline content; code artifacts are scanned (oversize code is denied).').optional(),
  })
  .meta({ description: 'Something the proposal produces or touches.' });
export type Artifact = z.infer<typeof Artifact>;

export const Claim = z
  .object({
    text: nonEmptyText(2048, 'The claim.'),
    confidence: z.number().min(0).max(1).meta({ description: 'Confidence in the claim, 0..1.' }),
  })
  .meta({ description: 'A claim the agent makes, with its confidence.' });

export const TruthAccount = z
  .object({
    observations: boundedList(text(2048, 'An observation.'), 32, 'What the agent observed before proposing.').default([]),
    claims: boundedList(Claim, 32, 'What the agent claims, each with a confidence.').default([]),
  })
  .meta({ description: 'The evidence the agent offers; non-read effects need at least one observation.' });

export const RollbackProof = z
  .object({
    description: nonEmptyText(4096, 'How the action is undone.'),
    rollbackTool: text(63, 'Tool that performs the rollback.').optional(),
    rollbackArgs: StepArgs.optional(),
    manualSteps: boundedList(text(1024, 'A manual rollback step.'), 32, 'Manual rollback steps.').optional(),
  })
  .meta({ description: 'Evidence that the action can be rolled back.' });

export const Reversibility = z
  .object({
    class: ReversibilityClass.optional(),
    rollbackProof: RollbackProof.optional(),
    executionMode: ExecutionMode.default('commit'),
    cleanupCost: CleanupCost.optional(),
  })
  .meta({ description: 'Reversibility declaration; non-read effects need a class, REVERSIBLE needs a rollback proof.' });

export const INTENT_MODES = ['plan', 'build', 'fix', 'report', 'ship'] as const;

export const ProposalSpec = z
  .object({
    agent: objectName('Name of the AgentProfile the submitter acts as; the submitter must be one of its subjects.'),
    submittedBy: nonEmptyText(253, 'Identity of the submitter; must equal the creating user (checked at admission).'),
    summary: nonEmptyText(1024, 'One-line summary shown to approvers.'),
    intent: z
      .object({
        id: nonEmptyText(128, 'Intent identifier chosen by the agent.'),
        goal: nonEmptyText(2048, 'What the agent is trying to achieve.'),
        mode: z.enum(INTENT_MODES).meta({ description: `Intent mode: ${INTENT_MODES.join(', ')}.` }),
      })
      .meta({ description: 'The intent the proposal serves.' }),
    effects: effectSet('Every effect the proposal may have (at least one). Policy is evaluated over these tags.', { min: 1 }),
    steps: boundedList(Step, 32, 'Tool invocations the job performs, in order (at least one).').min(1),
    artifacts: boundedList(Artifact, 32, 'Artifacts the proposal produces or touches.').default([]),
    truthAccount: TruthAccount,
    riskScore: z.number().min(0).max(1).optional().meta({ description: "Self-assessed risk 0..1. Missing counts as the agent profile's maxRisk." }),
    envelope: RequestedEnvelope.optional(),
    reversibility: Reversibility.optional(),
    supersedes: objectName('Name of an earlier Proposal this one answers (for example after NEED_MORE_EVIDENCE).').optional(),
  })
  .meta({ description: 'What an agent proposes to do. Immutable once created.', 'x-kubernetes-validations': IMMUTABLE_SPEC });
export type ProposalSpec = z.infer<typeof ProposalSpec>;
export type ProposalSpecInput = z.input<typeof ProposalSpec>;

export const PROPOSAL_PHASES = [
  'Pending',
  'Throttled',
  'Denied',
  'NeedsEvidence',
  'AwaitingApproval',
  'Approved',
  'Running',
  'Succeeded',
  'Failed',
  'Rejected',
  'Expired',
] as const;
export const ProposalPhase = z.enum(PROPOSAL_PHASES).meta({ description: `Lifecycle phase: ${PROPOSAL_PHASES.join(', ')}.` });
export type ProposalPhase = z.infer<typeof ProposalPhase>;

export const ProposalStatus = z
  .object({
    proposalHash: sha256Hex('SHA-256 of the RFC 8785 canonical JSON of spec; approvals must quote it.').optional(),
    phase: ProposalPhase.optional(),
    outcome: z.enum(['ALLOW', 'DENY', 'REQUIRE_HUMAN', 'NEED_MORE_EVIDENCE']).optional().meta({ description: 'Outcome of the Decision.' }),
    message: text(4096, 'Human-readable summary of the current phase.').optional(),
    decisionRef: ObjectRef.optional(),
    jobRef: ObjectRef.optional(),
    approvalRefs: boundedList(ObjectRef, 16, 'Approvals that counted towards the decision.').optional(),
    conditions: Conditions.optional(),
    observedGeneration: z.int().min(0).optional().meta({ description: 'The metadata.generation this status describes.' }),
  })
  .meta({ description: 'Observed state, written by the controller only.' });
export type ProposalStatus = z.infer<typeof ProposalStatus>;
