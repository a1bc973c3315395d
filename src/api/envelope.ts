import { z } from 'zod';
import { EFFECT_SCHEMA_VERSION, effectSet } from './effects.ts';
import { boundedList, nonEmptyText, objectName, sha256Hex, Step, text } from './primitives.ts';
import { DIGEST_PINNED_IMAGE, IMAGE_MESSAGE } from './image.ts';

/** Write scopes, least to most powerful. A tool's minimum scope must not exceed the envelope's. */
export const WRITE_SCOPES = ['none', 'sandbox', 'staging', 'prod'] as const;
export const WriteScope = z.enum(WRITE_SCOPES).meta({ description: 'Maximum write scope: none, sandbox, staging or prod.' });
export type WriteScope = z.infer<typeof WriteScope>;

export const SafetyMode = z
  .enum(['safe_default', 'governed', 'restricted'])
  .meta({ description: 'Safety mode the model runs in: safe_default, governed or restricted.' });
export type SafetyMode = z.infer<typeof SafetyMode>;

export const ModelSource = z.enum(['closed', 'open']).meta({ description: 'closed or open (open-weight models are forced to safe_default).' });

/** Bounds from the predecessor (seed-api §1.7); the policy may tighten them, never widen them. */
export const BUDGET_BOUNDS = {
  maxSteps: { min: 1, max: 10000, default: 100 },
  maxToolCalls: { min: 1, max: 1000, default: 50 },
  maxParallelAgents: { min: 1, max: 10, default: 1 },
  maxRuntimeSeconds: { min: 1, max: 3600, default: 300 },
  maxExternalIO: { min: 0, max: 100, default: 10 },
} as const;

function bounded(key: keyof typeof BUDGET_BOUNDS, description: string) {
  const b = BUDGET_BOUNDS[key];
  return z.int().min(b.min).max(b.max).meta({ description: `${description} (${b.min}..${b.max}).` });
}

export const AutonomyBudget = z
  .object({
    maxSteps: bounded('maxSteps', 'Maximum number of steps the runner may execute'),
    maxToolCalls: bounded('maxToolCalls', 'Maximum number of tool invocations'),
    maxParallelAgents: bounded('maxParallelAgents', 'Maximum number of agents acting in parallel'),
    maxRuntimeSeconds: bounded('maxRuntimeSeconds', 'Wall-clock limit of the whole run in seconds; also the Pod activeDeadlineSeconds'),
    maxExternalIO: bounded('maxExternalIO', 'Maximum number of requests through the egress gate'),
    maxWriteScope: WriteScope,
  })
  .meta({ description: 'The autonomy budget: hard limits the runner enforces before every step.' });
export type AutonomyBudget = z.infer<typeof AutonomyBudget>;

export const InferencePolicy = z
  .object({
    reasoningMode: z.boolean().meta({ description: 'Whether the model runs in reasoning mode (informational).' }),
    toolAccessProfile: text(64, 'Tool access profile name (informational).'),
    maxComputeClass: text(64, 'Maximum compute class (informational).'),
  })
  .meta({ description: 'Inference settings recorded in the envelope (informational, but hashed).' });

export const EgressRule = z
  .object({
    host: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[A-Za-z0-9.:-]+$/)
      .meta({ description: 'Host name or IP address the job may reach through the runner egress gate.' }),
    port: z.int().min(1).max(65535).meta({ description: 'TCP port.' }),
  })
  .meta({ description: 'One allowed egress destination.' });
export type EgressRule = z.infer<typeof EgressRule>;

const envelopeModelFields = {
  modelId: nonEmptyText(256, 'Identity of the model or agent runtime the envelope describes.'),
  modelSource: ModelSource,
  weightsHash: sha256Hex('SHA-256 of the model weights, when known.').optional(),
  postTrainingRecipeHash: sha256Hex('SHA-256 of the post-training recipe, when known.').optional(),
  inferencePolicy: InferencePolicy,
  safetyMode: SafetyMode,
};

/** What an agent may request in Proposal.spec.envelope. Missing fields take the policy defaults. */
export const RequestedEnvelope = z
  .object({
    modelId: envelopeModelFields.modelId.optional(),
    modelSource: ModelSource.optional(),
    weightsHash: envelopeModelFields.weightsHash,
    postTrainingRecipeHash: envelopeModelFields.postTrainingRecipeHash,
    inferencePolicy: InferencePolicy.partial()
      .optional()
      .meta({ description: 'Inference settings requested; missing fields take the policy defaults (informational, but hashed).' }),
    safetyMode: SafetyMode.optional(),
    autonomyBudget: AutonomyBudget.partial()
      .optional()
      .meta({ description: 'Autonomy budget requested; missing fields take the policy defaults, and each must stay within the policy ceiling.' }),
    egress: boundedList(EgressRule, 16, 'Egress destinations the job needs; each must be allowed by the policy.').optional(),
  })
  .meta({ description: 'The deployment envelope the agent requests; validated against the policy bounds (out of bounds is a DENY).' });
export type RequestedEnvelope = z.infer<typeof RequestedEnvelope>;

export const ReversibilityClass = z
  .enum(['REVERSIBLE', 'PARTIALLY_REVERSIBLE', 'IRREVERSIBLE'])
  .meta({ description: 'REVERSIBLE, PARTIALLY_REVERSIBLE or IRREVERSIBLE.' });
export type ReversibilityClass = z.infer<typeof ReversibilityClass>;
export const ExecutionMode = z.enum(['commit', 'draft', 'preview']).meta({ description: 'commit, draft or preview.' });
export type ExecutionMode = z.infer<typeof ExecutionMode>;
export const CleanupCost = z.enum(['LOW', 'MEDIUM', 'HIGH']).meta({ description: 'LOW, MEDIUM or HIGH.' });
export type CleanupCost = z.infer<typeof CleanupCost>;

/**
 * A step as decided: the proposal's tool invocation plus the hash of the Tool it was decided against and that
 * tool's image. The DEH covers both, so a tool edited after the decision no longer matches what was signed.
 */
// Transitional (issue 15 part A): the engine always writes toolHash and image, but they are optional in the
// schema until the runner checks them (part B), so envelopes minted before stay parseable. Part B makes both
// required.
export const EnvelopeStep = Step.extend({
  toolHash: sha256Hex('SHA-256 of the RFC 8785 form of the Tool spec the decision used (toolHash); the tool run must hash the same.').optional(),
  image: z
    .string()
    .min(1)
    .max(512)
    .refine((s) => DIGEST_PINNED_IMAGE.test(s), { message: IMAGE_MESSAGE })
    .optional()
    .meta({ description: "The tool's container image, pinned by digest (repository@sha256:<64 hex>).", maxLength: 512 }),
}).meta({ description: 'One tool invocation, bound to the tool definition (hash) and image the decision used.' });
export type EnvelopeStep = z.infer<typeof EnvelopeStep>;

/**
 * The effective envelope: everything the runner will do, hashed (DEH = SHA-256 of its RFC 8785 form) and
 * signed by the controller. Integers only where integers are meant; the budget already has the cleanup-cost
 * multiplier applied, so what is hashed is exactly what the runner enforces.
 */
export const EffectiveEnvelope = z
  .object({
    ...envelopeModelFields,
    autonomyBudget: AutonomyBudget,
    steps: boundedList(EnvelopeStep, 32, 'The tool steps the runner executes, in order, each bound to the exact tool definition.').min(1),
    image: nonEmptyText(512, 'Runner container image.'),
    egress: boundedList(EgressRule, 16, 'Allowed egress destinations (host allowlist of the runner egress gate and the NetworkPolicy).'),
    effectSchemaVersion: z.literal(EFFECT_SCHEMA_VERSION).meta({ description: 'Effect taxonomy version the decision used.' }),
    effects: effectSet('The allowed effects of the job.'),
    reversibility: z
      .object({
        class: ReversibilityClass.optional(),
        executionMode: ExecutionMode,
        cleanupCost: CleanupCost.optional(),
        hasRollbackProof: z.boolean().meta({ description: 'Whether the proposal carried a rollback proof.' }),
      })
      .meta({ description: 'Reversibility facts the runner gates on.' }),
    humanApproved: z.boolean().meta({ description: 'Whether a human approval was required and given.' }),
    budgetMultiplierPercent: z.int().min(1).max(100).meta({ description: 'Cleanup-cost budget multiplier in percent (already applied to the budget).' }),
    retryLimit: z.int().min(0).max(10).meta({ description: 'How many times the job may be retried.' }),
    proposal: z
      .object({
        namespace: objectName('Namespace of the proposal.'),
        name: objectName('Name of the proposal.'),
        uid: nonEmptyText(64, 'UID of the proposal.'),
        hash: sha256Hex('Proposal hash (SHA-256 of the RFC 8785 form of Proposal.spec).'),
      })
      .meta({ description: 'The proposal this envelope executes.' }),
  })
  .meta({ description: 'The complete effective deployment envelope (hashed and signed).' });
export type EffectiveEnvelope = z.infer<typeof EffectiveEnvelope>;
