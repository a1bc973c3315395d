import { EFFECT_TAGS, EXFIL_ADJACENT_EFFECTS, READ_ONLY_EFFECTS, type EffectTag } from '../api/effects.ts';

/**
 * Effect sets as 13-bit masks: the engine compares sets on every rule, and integers make that a single
 * AND instead of a walk over arrays.
 */
export type EffectMask = number;

const BIT = new Map<string, number>(EFFECT_TAGS.map((tag, i) => [tag, 1 << i]));

/** Bit of a tag; 0 for a string that is not a tag. */
export function effectBit(tag: string): number {
  return BIT.get(tag) ?? 0;
}

export function maskOf(tags: Iterable<string>): EffectMask {
  let m = 0;
  for (const t of tags) m |= effectBit(t);
  return m;
}

/** Tags of a mask in taxonomy order (so results are deterministic). */
export function tagsOf(mask: EffectMask): EffectTag[] {
  const out: EffectTag[] = [];
  for (let i = 0; i < EFFECT_TAGS.length; i++) if (mask & (1 << i)) out.push(EFFECT_TAGS[i] as EffectTag);
  return out;
}

export const READ_ONLY_MASK: EffectMask = maskOf(READ_ONLY_EFFECTS);
export const EXFIL_ADJACENT_MASK: EffectMask = maskOf(EXFIL_ADJACENT_EFFECTS);
export const ALL_EFFECTS_MASK: EffectMask = maskOf(EFFECT_TAGS);
export const BIT_READ_SECRETS = effectBit('READ_SECRETS');
export const BIT_DEPLOY = effectBit('DEPLOY');
export const BIT_OTHER = effectBit('OTHER');

/** True when every effect in the mask only reads or computes. */
export function isReadOnly(mask: EffectMask): boolean {
  return (mask & ~READ_ONLY_MASK) === 0;
}
