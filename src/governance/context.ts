import { EFFECT_TAGS } from '../api/effects.ts';
import type { ExecutionMode } from '../api/envelope.ts';
import type { ProposalSpec } from '../api/proposal.ts';
import type { ToolCatalogue } from '../tool-catalogue/catalogue.ts';
import { effectBit, isReadOnly, type EffectMask } from './effect-set.ts';
import { resolveEnvelope, type ResolvedEnvelope } from './envelope.ts';
import type { CompiledPolicy } from './policy.ts';
import { compileProfile, type CompiledProfile } from './profile.ts';
import { cleanupFor, type Cleanup } from './reversibility.ts';
import { lookupTool, type ToolLookup } from './tool-index.ts';
import type { EvaluationInput } from './types.ts';

/** Everything the rules read, computed once per evaluation. */
export interface RuleContext {
  input: EvaluationInput;
  spec: ProposalSpec;
  policy: CompiledPolicy;
  profile: CompiledProfile | undefined;
  catalogue: ToolCatalogue;
  /** Declared effects. */
  effects: EffectMask;
  /** Declared strings that are not effect tags. */
  unknownEffects: string[];
  readOnly: boolean;
  /** One entry per step: the step's tool, or why the catalogue has no usable tool of that name. */
  tools: ToolLookup[];
  /** Declared mode when valid, else commit (the strictest). */
  executionMode: ExecutionMode;
  executionModeValid: boolean;
  cleanup: Cleanup;
  envelope: ResolvedEnvelope;
}

const TAGS: ReadonlySet<string> = new Set(EFFECT_TAGS);

export function buildContext(input: EvaluationInput, policy: CompiledPolicy): RuleContext {
  const spec = input.proposal.spec;
  const catalogue = input.catalogue;
  let effects = 0;
  const unknownEffects: string[] = [];
  for (const e of spec.effects as readonly string[]) {
    if (TAGS.has(e)) effects |= effectBit(e);
    else unknownEffects.push(e);
  }
  const readOnly = isReadOnly(effects) && unknownEffects.length === 0;
  const declaredMode = spec.reversibility?.executionMode ?? 'commit';
  const executionModeValid = declaredMode === 'commit' || declaredMode === 'draft' || declaredMode === 'preview';
  const cleanup = cleanupFor(spec.reversibility?.cleanupCost, readOnly, policy.spec.reversibility.cleanupCost);
  return {
    input,
    spec,
    policy,
    profile: input.profile === undefined ? undefined : compileProfile(input.profile),
    catalogue,
    effects,
    unknownEffects,
    readOnly,
    tools: spec.steps.map((s) => lookupTool(s.tool, catalogue)),
    executionMode: executionModeValid ? declaredMode : 'commit',
    executionModeValid,
    cleanup,
    envelope: resolveEnvelope(spec.envelope, policy, cleanup),
  };
}
