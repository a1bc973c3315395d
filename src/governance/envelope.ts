import { EFFECT_SCHEMA_VERSION, type EffectTag } from '../api/effects.ts';
import {
  BUDGET_BOUNDS,
  type AutonomyBudget,
  type EffectiveEnvelope,
  type EgressRule,
  type EnvelopeStep,
  type ExecutionMode,
  type RequestedEnvelope,
  type WriteScope,
} from '../api/envelope.ts';
import type { ReasonCode } from './codes.ts';
import { quote } from './findings.ts';
import { writeScopeRank, type CompiledPolicy } from './policy.ts';
import type { Cleanup } from './reversibility.ts';
import { deepFreeze } from '../hash/freeze.ts';

type BudgetKey = keyof typeof BUDGET_BOUNDS;
const BUDGET_KEYS = Object.keys(BUDGET_BOUNDS) as BudgetKey[];
/** Budget fields the cleanup-cost multiplier scales (as the seed runner did). */
const MULTIPLIED: readonly BudgetKey[] = ['maxSteps', 'maxToolCalls'];
/** Open-weight models run with at most these (seed §6.2), applied before hashing so the DEH is what runs. */
const OPEN_WEIGHT_LIMITS: Partial<Record<BudgetKey, number>> = { maxSteps: 50, maxToolCalls: 25, maxRuntimeSeconds: 120 };
const OPEN_WEIGHT_MAX_WRITE_RANK = writeScopeRank('sandbox');

const SHA256_HEX = /^[0-9a-f]{64}$/;
const EGRESS_HOST = /^[A-Za-z0-9.:-]{1,253}$/;
const SAFETY_MODES: ReadonlySet<string> = new Set(['safe_default', 'governed', 'restricted']);

export interface EnvelopeIssue {
  code: Extract<ReasonCode, 'ENVELOPE_INVALID' | 'ENVELOPE_OUT_OF_BOUNDS' | 'EGRESS_NOT_ALLOWED'>;
  message: string;
}

type ModelFields = Pick<EffectiveEnvelope, 'modelId' | 'modelSource' | 'weightsHash' | 'postTrainingRecipeHash' | 'inferencePolicy' | 'safetyMode'>;

/** The requested envelope merged with the policy defaults, checked against the policy bounds. */
export interface ResolvedEnvelope {
  model: ModelFields;
  /** Effective budget: open-weight limits and the cleanup-cost multiplier applied. */
  budget: AutonomyBudget;
  egress: EgressRule[];
  /** Out of bounds or invalid requests: each is a DENY (never replaced by a default). */
  issues: EnvelopeIssue[];
  /** Fields tightened because the model is open-weight. */
  clamped: string[];
}

/** A bounded, well-formed string (a lone surrogate has no canonical JSON form). */
function isString(v: unknown, max: number, min = 0): v is string {
  return typeof v === 'string' && v.length >= min && v.length <= max && v.isWellFormed();
}

// Most proposals request nothing: their resolution depends only on the policy and the cleanup cost.
const defaultResolutions = new WeakMap<CompiledPolicy, Map<string, ResolvedEnvelope>>();

export function resolveEnvelope(req: RequestedEnvelope | undefined, policy: CompiledPolicy, cleanup: Cleanup): ResolvedEnvelope {
  if (req !== undefined) return resolve(req, policy, cleanup);
  let byCost = defaultResolutions.get(policy);
  if (byCost === undefined) {
    byCost = new Map();
    defaultResolutions.set(policy, byCost);
  }
  const key = `${cleanup.cost}:${cleanup.budgetMultiplierPercent}`;
  let r = byCost.get(key);
  if (r === undefined) {
    r = deepFreeze(resolve(undefined, policy, cleanup));
    byCost.set(key, r);
  }
  return r;
}

function resolve(req: RequestedEnvelope | undefined, policy: CompiledPolicy, cleanup: Cleanup): ResolvedEnvelope {
  const issues: EnvelopeIssue[] = [];
  const invalid = (field: string, what: string) => issues.push({ code: 'ENVELOPE_INVALID', message: `envelope.${field} ${what}.` });
  const defaults = policy.spec.envelope.defaults;
  const ceiling = policy.spec.envelope.ceiling;

  // Model identity.
  let modelId = defaults.modelId;
  if (req?.modelId !== undefined) {
    if (isString(req.modelId, 256, 1)) modelId = req.modelId;
    else invalid('modelId', 'must be 1..256 well-formed characters');
  }
  let modelSource = defaults.modelSource;
  if (req?.modelSource !== undefined) {
    if (req.modelSource === 'closed' || req.modelSource === 'open') modelSource = req.modelSource;
    else invalid('modelSource', 'must be closed or open');
  }
  let safetyMode = defaults.safetyMode;
  if (req?.safetyMode !== undefined) {
    if (SAFETY_MODES.has(req.safetyMode)) safetyMode = req.safetyMode;
    else invalid('safetyMode', 'must be safe_default, governed or restricted');
  }
  const inferencePolicy = { ...defaults.inferencePolicy };
  const ip = req?.inferencePolicy;
  if (ip !== undefined) {
    if (ip.reasoningMode !== undefined) {
      if (typeof ip.reasoningMode === 'boolean') inferencePolicy.reasoningMode = ip.reasoningMode;
      else invalid('inferencePolicy.reasoningMode', 'must be a boolean');
    }
    if (ip.toolAccessProfile !== undefined) {
      if (isString(ip.toolAccessProfile, 64)) inferencePolicy.toolAccessProfile = ip.toolAccessProfile;
      else invalid('inferencePolicy.toolAccessProfile', 'must be at most 64 characters');
    }
    if (ip.maxComputeClass !== undefined) {
      if (isString(ip.maxComputeClass, 64)) inferencePolicy.maxComputeClass = ip.maxComputeClass;
      else invalid('inferencePolicy.maxComputeClass', 'must be at most 64 characters');
    }
  }
  const model: ModelFields = { modelId, modelSource, inferencePolicy, safetyMode };
  for (const key of ['weightsHash', 'postTrainingRecipeHash'] as const) {
    const v = req?.[key];
    if (v === undefined) continue;
    if (typeof v === 'string' && SHA256_HEX.test(v)) model[key] = v;
    else invalid(key, 'must be a lowercase hex SHA-256');
  }

  // Budget: requested values must lie within [schema minimum, policy ceiling]; nothing is silently defaulted.
  const rb = req?.autonomyBudget;
  const budget = { ...defaults.autonomyBudget };
  for (const key of BUDGET_KEYS) {
    const v = rb?.[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) invalid(`autonomyBudget.${key}`, `must be an integer, got ${String(v)}`);
    else if (v < BUDGET_BOUNDS[key].min)
      issues.push({ code: 'ENVELOPE_OUT_OF_BOUNDS', message: `envelope.autonomyBudget.${key} ${v} is below the minimum ${BUDGET_BOUNDS[key].min}.` });
    else if (v > ceiling[key])
      issues.push({ code: 'ENVELOPE_OUT_OF_BOUNDS', message: `envelope.autonomyBudget.${key} ${v} exceeds the policy ceiling ${ceiling[key]}.` });
    else budget[key] = v;
  }
  if (rb?.maxWriteScope !== undefined) {
    const rank = writeScopeRank(rb.maxWriteScope);
    if (rank === Number.POSITIVE_INFINITY) invalid('autonomyBudget.maxWriteScope', 'must be none, sandbox, staging or prod');
    else if (rank > policy.ceilingWriteRank)
      issues.push({
        code: 'ENVELOPE_OUT_OF_BOUNDS',
        message: `envelope.autonomyBudget.maxWriteScope ${rb.maxWriteScope} exceeds the policy ceiling ${ceiling.maxWriteScope}.`,
      });
    else budget.maxWriteScope = rb.maxWriteScope;
  }

  // Open-weight models: tightened before hashing, so the hash attests to what the runner enforces.
  const clamped: string[] = [];
  if (model.modelSource === 'open') {
    if (model.safetyMode !== 'safe_default') {
      model.safetyMode = 'safe_default';
      clamped.push('safetyMode=safe_default');
    }
    for (const key of BUDGET_KEYS) {
      const limit = OPEN_WEIGHT_LIMITS[key];
      if (limit !== undefined && budget[key] > limit) {
        budget[key] = limit;
        clamped.push(`${key}=${limit}`);
      }
    }
    if (writeScopeRank(budget.maxWriteScope) > OPEN_WEIGHT_MAX_WRITE_RANK) {
      budget.maxWriteScope = 'sandbox' satisfies WriteScope;
      clamped.push('maxWriteScope=sandbox');
    }
  }

  for (const key of MULTIPLIED) {
    budget[key] = Math.max(BUDGET_BOUNDS[key].min, Math.floor((budget[key] * cleanup.budgetMultiplierPercent) / 100));
  }

  // Egress: every destination must be allowed by the policy.
  const egress: EgressRule[] = [];
  const requested = req?.egress ?? [];
  if (requested.length > 16) invalid('egress', 'lists more than 16 destinations');
  requested.forEach((e, i) => {
    if (!isString(e.host, 253) || !EGRESS_HOST.test(e.host) || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535) {
      invalid(`egress[${i}]`, 'must be a host (letters, digits, . : -) and a port 1..65535');
      return;
    }
    if (!policy.allowedEgress.has(`${e.host.toLowerCase()}:${e.port}`)) {
      issues.push({ code: 'EGRESS_NOT_ALLOWED', message: `envelope.egress[${i}] ${quote(e.host)}:${e.port} is not in the policy's allowedEgress.` });
      return;
    }
    egress.push({ host: e.host, port: e.port });
  });

  return { model, budget, egress, issues, clamped };
}

export interface EnvelopeFacts {
  /** The proposal's steps, each with the hash and image of the tool it was decided against. */
  steps: readonly EnvelopeStep[];
  image: string;
  effects: EffectTag[];
  reversibility: { class?: EffectiveEnvelope['reversibility']['class']; executionMode: ExecutionMode; cleanupCost?: EffectiveEnvelope['reversibility']['cleanupCost']; hasRollbackProof: boolean };
  humanApproved: boolean;
  cleanup: Cleanup;
  proposal: EffectiveEnvelope['proposal'];
}

function sortedArgs(args: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(args).sort()) out[k] = args[k] as string;
  return out;
}

/** The complete effective envelope (what the DEH covers). */
export function buildEffectiveEnvelope(r: ResolvedEnvelope, f: EnvelopeFacts): EffectiveEnvelope {
  const b = r.budget;
  const ip = r.model.inferencePolicy;
  const rev = f.reversibility;
  const reversibility = {} as EffectiveEnvelope['reversibility'];
  if (rev.class !== undefined) reversibility.class = rev.class;
  if (rev.cleanupCost !== undefined) reversibility.cleanupCost = rev.cleanupCost;
  reversibility.executionMode = rev.executionMode;
  reversibility.hasRollbackProof = rev.hasRollbackProof;
  const e = {
    autonomyBudget: {
      maxExternalIO: b.maxExternalIO,
      maxParallelAgents: b.maxParallelAgents,
      maxRuntimeSeconds: b.maxRuntimeSeconds,
      maxSteps: b.maxSteps,
      maxToolCalls: b.maxToolCalls,
      maxWriteScope: b.maxWriteScope,
    },
    budgetMultiplierPercent: f.cleanup.budgetMultiplierPercent,
    effectSchemaVersion: EFFECT_SCHEMA_VERSION,
    effects: [...f.effects],
    egress: r.egress.map((x) => ({ host: x.host, port: x.port })),
    humanApproved: f.humanApproved,
    image: f.image,
    inferencePolicy: { maxComputeClass: ip.maxComputeClass, reasoningMode: ip.reasoningMode, toolAccessProfile: ip.toolAccessProfile },
    modelId: r.model.modelId,
    modelSource: r.model.modelSource,
  } as EffectiveEnvelope;
  if (r.model.postTrainingRecipeHash !== undefined) e.postTrainingRecipeHash = r.model.postTrainingRecipeHash;
  e.proposal = { hash: f.proposal.hash, name: f.proposal.name, namespace: f.proposal.namespace, uid: f.proposal.uid };
  e.retryLimit = f.cleanup.retryLimit;
  e.reversibility = reversibility;
  e.safetyMode = r.model.safetyMode;
  e.steps = f.steps.map((s) => {
    const step: EnvelopeStep = { args: sortedArgs(s.args), image: s.image, tool: s.tool, toolHash: s.toolHash };
    if (s.image === undefined) delete step.image;
    if (s.toolHash === undefined) delete step.toolHash;
    return step;
  });
  if (r.model.weightsHash !== undefined) e.weightsHash = r.model.weightsHash;
  return e;
}
