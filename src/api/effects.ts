import { z } from 'zod';

/**
 * The effect taxonomy (schema version 1.0.0). An agent declares every effect its proposal may have;
 * policy is written over these tags. The tag list is closed: the CRD enum refuses anything else.
 */
export const EFFECT_SCHEMA_VERSION = '1.0.0';

export const EFFECT_TAGS = [
  'READ_REPO',
  'READ_SECRETS',
  'READ_CONFIG',
  'COMPUTE',
  'WRITE_PATCH',
  'RUN_TESTS',
  'BUILD_ARTIFACT',
  'CREATE_PR',
  'MERGE',
  'DEPLOY',
  'NETWORK_CALL',
  'SEND_NOTIFICATION',
  'OTHER',
] as const;

export const EffectTag = z.enum(EFFECT_TAGS).meta({
  description:
    'An effect tag: READ_REPO, READ_SECRETS, READ_CONFIG, COMPUTE, WRITE_PATCH, RUN_TESTS, BUILD_ARTIFACT, CREATE_PR, MERGE, DEPLOY, NETWORK_CALL, SEND_NOTIFICATION or OTHER.',
});
export type EffectTag = z.infer<typeof EffectTag>;

/**
 * A list of distinct effect tags. The CRD marks it a set (the API server refuses duplicates); the refinement
 * makes zod refuse the same objects, so what the controller parses is what the API server would store.
 */
export function effectSet(description: string, bounds: { min?: number; max?: number } = {}) {
  return z
    .array(EffectTag)
    .min(bounds.min ?? 0)
    .max(bounds.max ?? EFFECT_TAGS.length)
    .refine((tags) => new Set(tags).size === tags.length, { message: 'effects must not repeat' })
    .meta({ description, 'x-kubernetes-list-type': 'set' });
}

/** Effects that only read or compute; a proposal made only of these skips the reversibility gate. */
export const READ_ONLY_EFFECTS: ReadonlySet<EffectTag> = new Set(['READ_REPO', 'READ_CONFIG', 'COMPUTE']);

/** Effects that can move data out of the cluster or change the outside world. */
export const EXFIL_ADJACENT_EFFECTS: ReadonlySet<EffectTag> = new Set([
  'NETWORK_CALL',
  'SEND_NOTIFICATION',
  'CREATE_PR',
  'MERGE',
  'DEPLOY',
  'READ_SECRETS',
]);
