import type { AgentProfileSpec } from '../api/agent-profile.ts';
import { maskOf, type EffectMask } from './effect-set.ts';

export interface CompiledProfile {
  spec: AgentProfileSpec;
  subjects: ReadonlySet<string>;
  allowed: EffectMask;
}

const compiled = new WeakMap<AgentProfileSpec, CompiledProfile>();

/** An AgentProfile prepared for evaluation; cached per profile object. */
export function compileProfile(spec: AgentProfileSpec): CompiledProfile {
  let c = compiled.get(spec);
  if (c === undefined) {
    c = { spec, subjects: new Set(spec.subjects), allowed: maskOf(spec.allowedEffects) };
    compiled.set(spec, c);
  }
  return c;
}
