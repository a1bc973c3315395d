// Names and label values of the objects the controller derives from a governance Job. Kubernetes limits
// object names to 253 characters and label values to 63, while a Job (= Proposal) name may use all 253, so
// long values are shortened deterministically (prefix + hash) — every caller uses these functions, so the
// NetworkPolicy podSelector and the Pod label always agree.
import { sha256Hex } from '../hash/canonical.ts';
import { LABELS } from '../api/group.ts';

const MAX_NAME = 253;
const MAX_LABEL_VALUE = 63;

function shorten(value: string, max: number): string {
  if (value.length <= max) return value;
  const digest = sha256Hex(value).slice(0, 16);
  // Keep the result a valid name/label value: it must end with an alphanumeric character.
  const head = value.slice(0, max - digest.length - 1).replace(/[^A-Za-z0-9]+$/, '');
  return `${head}-${digest}`;
}

/** Value of the governance.m87.io/job and …/proposal labels for an object name. */
export function labelValue(name: string): string {
  return shorten(name, MAX_LABEL_VALUE);
}

export function jobPodName(jobName: string): string {
  return shorten(`m87-job-${jobName}`, MAX_NAME);
}

export function jobNetworkPolicyName(jobName: string): string {
  return shorten(`m87-job-${jobName}`, MAX_NAME);
}

export const MANAGED_BY = 'm87';

/** The field manager of every write the controller makes. */
export const FIELD_MANAGER = 'm87-controller';

/** Labels on every job Pod and NetworkPolicy. */
export function jobLabels(jobName: string, proposalName: string): Record<string, string> {
  return {
    [LABELS.job]: labelValue(jobName),
    [LABELS.proposal]: labelValue(proposalName),
    [LABELS.managedBy]: MANAGED_BY,
  };
}

/** Label selector for the controller's Pod and NetworkPolicy informers. */
export const MANAGED_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.job}`;

/** Labels of the public-key ConfigMaps (job Pods mount them); the controller's informer selects by them. */
export const PUBLIC_KEY_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/managed-by': MANAGED_BY,
  'app.kubernetes.io/component': 'signing-public-key',
};

export const PUBLIC_KEY_SELECTOR = Object.entries(PUBLIC_KEY_LABELS)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');
