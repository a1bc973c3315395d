import { BUDGET_BOUNDS, WRITE_SCOPES, type WriteScope } from '../api/envelope.ts';
import { GovernancePolicySpec, type ToxicPair } from '../api/governance-policy.ts';
import { formatIssue } from '../api/issues.ts';
import { maskOf, type EffectMask } from './effect-set.ts';
import { compileFsRules, type CompiledFsRule } from './paths.ts';
import { compileTripwires, type CompiledTripwires } from './tripwires.ts';

/** The policy cannot be used: the controller makes no decision (it requeues and says why), never ALLOW. */
export class PolicyError extends Error {
  override name = 'PolicyError';
}

export const TIER_NAMES = ['FULL_SERVICE', 'READ_ONLY', 'QUARANTINE', 'DENY_ALL'] as const;

/** Effects each quarantine tier still permits (seed §7.2). */
const TIER_ALLOWED: readonly EffectMask[] = [
  maskOf(['READ_REPO', 'READ_SECRETS', 'READ_CONFIG', 'COMPUTE', 'WRITE_PATCH', 'RUN_TESTS', 'BUILD_ARTIFACT', 'CREATE_PR', 'MERGE', 'DEPLOY', 'NETWORK_CALL', 'SEND_NOTIFICATION', 'OTHER']),
  maskOf(['READ_REPO', 'READ_CONFIG', 'COMPUTE']),
  maskOf(['READ_REPO', 'READ_CONFIG']),
  0,
];

export function writeScopeRank(scope: string): number {
  const i = (WRITE_SCOPES as readonly string[]).indexOf(scope);
  return i === -1 ? Number.POSITIVE_INFINITY : i; // an unknown scope outranks everything (fail closed)
}

export interface CompiledPair {
  name: string;
  mask: EffectMask;
  effects: readonly string[];
  outcome: ToxicPair['outcome'];
}

/** A policy prepared for fast evaluation; built once per policy object. */
export interface CompiledPolicy {
  spec: GovernancePolicySpec;
  tier: number;
  tierAllowed: EffectMask;
  windowMs: number;
  pairs: readonly CompiledPair[];
  tripwires: CompiledTripwires;
  fsRules: readonly CompiledFsRule[];
  /** "host:port", host lower-cased. */
  allowedEgress: ReadonlySet<string>;
  ceilingWriteRank: number;
}

function semanticErrors(spec: GovernancePolicySpec): string[] {
  const errors: string[] = [];
  spec.tripwires.patterns.forEach((t, i) => {
    try {
      new RegExp(t.pattern);
    } catch (e) {
      errors.push(`spec.tripwires.patterns[${i}].pattern: ${(e as Error).message}`);
    }
  });
  const d = spec.envelope.defaults.autonomyBudget;
  const c = spec.envelope.ceiling;
  for (const key of Object.keys(BUDGET_BOUNDS) as (keyof typeof BUDGET_BOUNDS)[]) {
    if (d[key] > c[key]) errors.push(`spec.envelope.defaults.autonomyBudget.${key}: ${d[key]} exceeds the ceiling ${c[key]}`);
  }
  if (writeScopeRank(d.maxWriteScope) > writeScopeRank(c.maxWriteScope)) {
    errors.push(`spec.envelope.defaults.autonomyBudget.maxWriteScope: ${d.maxWriteScope} exceeds the ceiling ${c.maxWriteScope}`);
  }
  spec.virtualFilesystem.forEach((r, i) => {
    if (r.policy === 'DENY' && (r.allowedPaths?.length ?? 0) > 0) errors.push(`spec.virtualFilesystem[${i}].allowedPaths: only ALLOWLIST rules take allowed paths`);
  });
  return errors;
}

/**
 * Every reason the policy cannot be used (empty when it is valid): schema violations and semantic ones
 * (tripwires that are not valid regular expressions, defaults above the ceiling). Errors name the field.
 */
export function validatePolicy(spec: unknown): string[] {
  const parsed = GovernancePolicySpec.safeParse(spec);
  if (!parsed.success) return parsed.error.issues.map((i) => formatIssue(i, 'spec'));
  return semanticErrors(parsed.data);
}

const compiled = new WeakMap<GovernancePolicySpec, CompiledPolicy>();

/**
 * Compiles a policy (cached per policy object, so callers should keep the object while the policy is
 * unchanged). Throws PolicyError for a policy that fails its semantic checks; the caller is expected to
 * have schema-validated it (validatePolicy does both).
 */
export function compilePolicy(spec: GovernancePolicySpec): CompiledPolicy {
  const hit = compiled.get(spec);
  if (hit !== undefined) return hit;
  const errors = semanticErrors(spec);
  if (errors.length > 0) throw new PolicyError(`policy is invalid: ${errors.join('; ')}`);
  const tier = spec.quarantineTier;
  const c: CompiledPolicy = {
    spec,
    tier,
    tierAllowed: TIER_ALLOWED[tier] ?? 0,
    windowMs: spec.session.windowSeconds * 1000,
    pairs: spec.toxicPairs.map((p) => ({ name: p.name, mask: maskOf(p.effects), effects: p.effects, outcome: p.outcome })),
    tripwires: compileTripwires(spec.tripwires),
    fsRules: compileFsRules(spec.virtualFilesystem),
    allowedEgress: new Set(spec.envelope.allowedEgress.map((e) => `${e.host.toLowerCase()}:${e.port}`)),
    ceilingWriteRank: writeScopeRank(spec.envelope.ceiling.maxWriteScope satisfies WriteScope),
  };
  compiled.set(spec, c);
  return c;
}
