/** The M87 API group. Every kind lives in one group/version and in the `m87` category. */
export const GROUP = 'governance.m87.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'm87';

/** Annotation and label keys that M87 writes on objects it owns (job Pods, NetworkPolicies). */
export const ANNOTATIONS = {
  envelope: `${GROUP}/envelope`,
  envelopeHash: `${GROUP}/envelope-hash`,
  signature: `${GROUP}/signature`,
  keyId: `${GROUP}/key-id`,
  jobUID: `${GROUP}/job-uid`,
} as const;

/**
 * The job Pod's downward-API volume projects each annotation the runner reads into a file of its own (a
 * single-key fieldRef, `metadata.annotations['<key>']`), which the kubelet writes as the raw value.
 */
export const PODINFO_FILES = {
  envelope: 'envelope',
  envelopeHash: 'envelope-hash',
  signature: 'signature',
  keyId: 'key-id',
  jobUID: 'job-uid',
} as const satisfies Record<keyof typeof ANNOTATIONS, string>;

export const LABELS = {
  job: `${GROUP}/job`,
  proposal: `${GROUP}/proposal`,
  managedBy: 'app.kubernetes.io/managed-by',
} as const;
