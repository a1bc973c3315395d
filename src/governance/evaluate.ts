import type { Outcome } from '../api/decision.ts';
import { envelopeHash } from '../integrity/document-hashes.ts';
import { makeChallenge } from './challenge.ts';
import { buildContext, type RuleContext } from './context.ts';
import { tagsOf } from './effect-set.ts';
import { buildEffectiveEnvelope } from './envelope.ts';
import { Findings, quote } from './findings.ts';
import { compilePolicy } from './policy.ts';
import { agentScopeRule } from './rules/agent-scope.ts';
import { deployRule } from './rules/deploy.ts';
import { effectDriftRule } from './rules/effect-drift.ts';
import { envelopeRule } from './rules/envelope.ts';
import { evidenceRule } from './rules/evidence.ts';
import { identityRule } from './rules/identity.ts';
import { otherEffectRule } from './rules/other-effect.ts';
import { proposalShapeRule } from './rules/proposal-shape.ts';
import { quarantineRule } from './rules/quarantine.ts';
import { reversibilityRule } from './rules/reversibility.ts';
import { riskRule } from './rules/risk.ts';
import { secretsRule } from './rules/secrets.ts';
import { topologyRule } from './rules/topology.ts';
import { tripwiresRule } from './rules/tripwires.ts';
import { virtualFsRule } from './rules/virtual-fs.ts';
import type { EvaluationInput, EvaluationResult } from './types.ts';
import { ENGINE_VERSION } from './version.ts';

export type Rule = (ctx: RuleContext, out: Findings) => void;

/** DESIGN §3, in order. Every rule runs; none stops the others. */
export const RULES: readonly Rule[] = [
  proposalShapeRule,
  identityRule,
  quarantineRule,
  secretsRule,
  virtualFsRule,
  effectDriftRule,
  agentScopeRule,
  evidenceRule,
  riskRule,
  deployRule,
  otherEffectRule,
  topologyRule,
  tripwiresRule,
  reversibilityRule,
  envelopeRule,
];

/** The caller passed something the engine cannot decide with; no decision is made (never ALLOW). */
export class EvaluationInputError extends Error {
  override name = 'EvaluationInputError';
}

const HEX64 = /^[0-9a-f]{64}$/;
const OBJECT_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

// Policy hashes rarely change: remember the last value that passed.
let lastPolicyHash = '';

function checkInput(input: EvaluationInput): void {
  const fail = (field: string, what: string) => {
    throw new EvaluationInputError(`${field} ${what}`);
  };
  if (!Number.isFinite(input.now)) fail('now', 'must be a finite time in epoch milliseconds');
  if (!HEX64.test(input.proposal.hash)) fail('proposal.hash', 'must be a lowercase hex SHA-256');
  if (input.policy.hash !== lastPolicyHash) {
    if (!HEX64.test(input.policy.hash)) fail('policy.hash', 'must be a lowercase hex SHA-256');
    lastPolicyHash = input.policy.hash;
  }
  if (!Number.isSafeInteger(input.policy.generation) || input.policy.generation < 0) fail('policy.generation', 'must be a non-negative integer');
  if (typeof input.runnerImage !== 'string' || input.runnerImage.length === 0 || input.runnerImage.length > 512) fail('runnerImage', 'must be 1..512 characters');
  if (input.challengeSecret.length === 0) fail('challengeSecret', 'must not be empty');
  if (!input.runnerImage.isWellFormed()) fail('runnerImage', 'must be a well-formed string');
  const p = input.proposal;
  if (!OBJECT_NAME.test(p.namespace)) fail('proposal.namespace', 'must be a Kubernetes object name');
  if (!OBJECT_NAME.test(p.name)) fail('proposal.name', 'must be a Kubernetes object name');
  if (typeof p.uid !== 'string' || p.uid.length === 0 || p.uid.length > 64 || !p.uid.isWellFormed()) fail('proposal.uid', 'must be 1..64 well-formed characters');
}

/**
 * The decision procedure: pure and deterministic (time, history, secret, image and tool catalogue are
 * inputs). All rules run; the outcome is the most severe finding and every finding is listed. Throws
 * PolicyError / EvaluationInputError when it cannot decide at all.
 */
export function evaluate(input: EvaluationInput): EvaluationResult {
  checkInput(input);
  const policy = compilePolicy(input.policy.spec);
  const ctx = buildContext(input, policy);
  const out = new Findings();
  for (const rule of RULES) rule(ctx, out);

  const outcome: Outcome = out.outcome;
  const reasons = out.recorded();
  const proceeds = outcome === 'ALLOW' || outcome === 'REQUIRE_HUMAN';
  if (outcome === 'ALLOW') {
    reasons.unshift({
      code: 'ALLOWED',
      rule: 'result',
      outcome: 'ALLOW',
      message: `Allowed by policy: ${quote(ctx.spec.submittedBy)} acting as ${quote(ctx.spec.agent)} within scope.`,
    });
    if (reasons.length > 64) reasons.length = 64; // only ALLOW-level notes can be cut here
  }
  const result: EvaluationResult = {
    outcome,
    reasons,
    allowedEffects: proceeds ? tagsOf(ctx.effects) : [],
    requiredApprovals: { count: outcome === 'REQUIRE_HUMAN' ? policy.spec.approvals.requiredCount : 0 },
    budgetMultiplierPercent: ctx.cleanup.budgetMultiplierPercent,
    retryLimit: ctx.cleanup.retryLimit,
    policy: { generation: input.policy.generation, hash: input.policy.hash },
    engineVersion: ENGINE_VERSION,
  };
  if (outcome === 'REQUIRE_HUMAN') {
    result.expiresAt = new Date(input.now + policy.spec.approvals.expirySeconds * 1000).toISOString();
    if (out.challenge !== undefined) result.challenge = makeChallenge(input.challengeSecret, input.proposal.hash, out.challenge.answer, out.challenge.prompt);
  }
  if (proceeds) {
    const p = input.proposal;
    const rev = ctx.spec.reversibility;
    const envelope = buildEffectiveEnvelope(ctx.envelope, {
      // A decision that proceeds has found every step's tool (TOOL_UNKNOWN / TOOL_INVALID deny).
      steps: ctx.spec.steps.map((step, i) => {
        const lookup = ctx.tools[i];
        if (lookup === undefined || !lookup.found) throw new EvaluationInputError(`steps[${i}].tool: no tool, yet the outcome is ${outcome}`);
        return { tool: step.tool, args: step.args, toolHash: lookup.tool.hash, image: lookup.tool.spec.image };
      }),
      image: input.runnerImage,
      effects: result.allowedEffects,
      reversibility: {
        ...(rev?.class !== undefined ? { class: rev.class } : {}),
        executionMode: ctx.executionMode,
        cleanupCost: ctx.cleanup.cost,
        hasRollbackProof: rev?.rollbackProof !== undefined,
      },
      // The job runs only after the required approvals, so this is what it will carry: the DEH an
      // approver sees is the DEH that runs.
      humanApproved: outcome === 'REQUIRE_HUMAN',
      cleanup: ctx.cleanup,
      proposal: { namespace: p.namespace, name: p.name, uid: p.uid, hash: p.hash },
    });
    result.effectiveEnvelope = envelope;
    result.envelopeHash = envelopeHash(envelope);
  }
  return result;
}
