// The job Pod (docs/dev/pod-contract.md): no credentials, restricted security context, and the Job's signed
// envelope — the signature made when the Job was minted, never a second one — as annotations, each projected
// into a file of its own by a downward-API volume.
import type { EffectiveEnvelope } from '../api/envelope.ts';
import { ANNOTATIONS, PODINFO_FILES } from '../api/group.ts';
import { canonicalJson } from '../hash/canonical.ts';
import { jobLabels, jobPodName } from './names.ts';
import { controllerRef } from './owner.ts';

export const RUNNER_CONTAINER = 'runner';
export const RUNNER_UID = 65532;
/** Extra seconds past the budget so the runner can write its receipt before the kubelet kills the Pod. */
export const DEADLINE_GRACE_SECONDS = 30;

export const PODINFO_DIR = '/etc/m87/podinfo';
export const KEYS_DIR = '/etc/m87/keys';
export const PUBLIC_KEY_FILE_KEY = 'public.pem';
export const WORKSPACE_DIR = '/workspace';
export const TERMINATION_LOG = '/dev/termination-log';

export interface ResourceRequirements {
  requests: Record<string, string>;
  limits: Record<string, string>;
}

export const DEFAULT_RUNNER_RESOURCES: ResourceRequirements = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};

/** What of the governance Job its Pod carries: the signed envelope exactly as minted, and the Job's identity. */
export interface SignedJob {
  uid: string;
  envelope: EffectiveEnvelope;
  envelopeHash: string;
  /** Job.spec.signature: the controller's Ed25519 signature over the DEH, made when the Job was minted. */
  signature: string;
  keyId: string;
}

export interface JobPodInput {
  job: SignedJob & { namespace: string; name: string; proposalName: string };
  /** ConfigMap (in the job's namespace) holding the controller's public key under public.pem. */
  publicKeyConfigMap: string;
  resources?: ResourceRequirements;
}

/** The annotations the runner reads (once) through the downward API. */
export function jobPodAnnotations(job: SignedJob): Record<string, string> {
  return {
    [ANNOTATIONS.envelope]: canonicalJson(job.envelope),
    [ANNOTATIONS.envelopeHash]: job.envelopeHash,
    [ANNOTATIONS.signature]: job.signature,
    [ANNOTATIONS.keyId]: job.keyId,
    [ANNOTATIONS.jobUID]: job.uid,
  };
}

/**
 * The first annotation in which `pod` differs from what this controller puts on the Pod of `job`, or undefined
 * when it carries all of them. Only the controller can create a Pod carrying m87 annotations and nobody can
 * change them afterwards (admission policy m87-job-pods), so a Pod that carries them is the controller's Pod
 * for this Job, and its runner was handed exactly the signed envelope. A Pod that does not (e.g. one someone
 * else created under the job Pod's name with an owner reference to the Job) says nothing about this Job.
 */
export function podAnnotationMismatch(pod: { metadata?: { annotations?: Record<string, string> } }, job: SignedJob): string | undefined {
  const actual = pod.metadata?.annotations ?? {};
  for (const [key, value] of Object.entries(jobPodAnnotations(job))) {
    if (actual[key] !== value) return key;
  }
  return undefined;
}

export interface JobPodContainer {
  name: string;
  image: string;
  imagePullPolicy: string;
  command: string[];
  env: { name: string; value: string }[];
  securityContext: {
    allowPrivilegeEscalation: boolean;
    readOnlyRootFilesystem: boolean;
    runAsNonRoot: boolean;
    capabilities: { drop: string[] };
  };
  terminationMessagePath: string;
  terminationMessagePolicy: 'File';
  resources: ResourceRequirements;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface JobPodVolume {
  name: string;
  downwardAPI?: { items: { path: string; fieldRef: { fieldPath: string } }[] };
  configMap?: { name: string; items: { key: string; path: string }[] };
  emptyDir?: Record<string, never>;
}

export interface JobPodSpec {
  restartPolicy: 'Never';
  activeDeadlineSeconds: number;
  automountServiceAccountToken: false;
  enableServiceLinks: false;
  securityContext: {
    runAsNonRoot: boolean;
    runAsUser: number;
    runAsGroup: number;
    fsGroup: number;
    seccompProfile: { type: 'RuntimeDefault' };
  };
  containers: JobPodContainer[];
  volumes: JobPodVolume[];
}

export interface JobPod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: ReturnType<typeof controllerRef>[];
  };
  spec: JobPodSpec;
}

export function buildJobPod(input: JobPodInput): JobPod {
  const { job } = input;
  const resources = input.resources ?? DEFAULT_RUNNER_RESOURCES;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: jobPodName(job.name),
      namespace: job.namespace,
      labels: jobLabels(job.name, job.proposalName),
      annotations: jobPodAnnotations(job),
      ownerReferences: [controllerRef('Job', job)],
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: job.envelope.autonomyBudget.maxRuntimeSeconds + DEADLINE_GRACE_SECONDS,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUNNER_UID,
        runAsGroup: RUNNER_UID,
        fsGroup: RUNNER_UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: RUNNER_CONTAINER,
          image: job.envelope.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['m87', 'runner'],
          env: [
            { name: 'M87_PODINFO_DIR', value: PODINFO_DIR },
            { name: 'M87_PUBLIC_KEY_FILE', value: `${KEYS_DIR}/${PUBLIC_KEY_FILE_KEY}` },
            { name: 'M87_WORKSPACE', value: WORKSPACE_DIR },
            { name: 'M87_TERMINATION_LOG', value: TERMINATION_LOG },
          ],
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
          },
          terminationMessagePath: TERMINATION_LOG,
          terminationMessagePolicy: 'File',
          resources,
          volumeMounts: [
            { name: 'podinfo', mountPath: PODINFO_DIR, readOnly: true },
            { name: 'signing-key', mountPath: KEYS_DIR, readOnly: true },
            { name: 'workspace', mountPath: WORKSPACE_DIR },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        },
      ],
      volumes: [
        {
          name: 'podinfo',
          downwardAPI: {
            items: (Object.keys(PODINFO_FILES) as (keyof typeof PODINFO_FILES)[]).map((k) => ({
              path: PODINFO_FILES[k],
              fieldRef: { fieldPath: `metadata.annotations['${ANNOTATIONS[k]}']` },
            })),
          },
        },
        {
          name: 'signing-key',
          configMap: { name: input.publicKeyConfigMap, items: [{ key: PUBLIC_KEY_FILE_KEY, path: PUBLIC_KEY_FILE_KEY }] },
        },
        { name: 'workspace', emptyDir: {} },
        { name: 'tmp', emptyDir: {} },
      ],
    },
  };
}
