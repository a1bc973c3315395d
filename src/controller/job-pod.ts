// The job Pod (docs/dev/pod-contract.md): no credentials, restricted security context, the signed envelope
// and the job binding as annotations, exposed to the runner through a downward-API volume.
import type { EffectiveEnvelope } from '../api/envelope.ts';
import { ANNOTATIONS } from '../api/group.ts';
import { canonicalJson } from '../hash/canonical.ts';
import { signDeh, signJobBinding } from '../integrity/signing.ts';
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

export interface JobPodInput {
  job: {
    namespace: string;
    name: string;
    uid: string;
    proposalName: string;
    envelope: EffectiveEnvelope;
    envelopeHash: string;
  };
  signingKey: { keyId: string; privateKeyPem: string };
  /** ConfigMap (in the job's namespace) holding the controller's public key under public.pem. */
  publicKeyConfigMap: string;
  resources?: ResourceRequirements;
}

/** The annotations the runner reads (once) through the downward API. */
export function jobPodAnnotations(input: JobPodInput): Record<string, string> {
  const { job, signingKey } = input;
  return {
    [ANNOTATIONS.envelope]: canonicalJson(job.envelope),
    [ANNOTATIONS.envelopeHash]: job.envelopeHash,
    [ANNOTATIONS.signature]: signDeh(signingKey.privateKeyPem, job.envelopeHash),
    [ANNOTATIONS.keyId]: signingKey.keyId,
    [ANNOTATIONS.jobUID]: job.uid,
    [ANNOTATIONS.jobName]: job.name,
    [ANNOTATIONS.bindingSignature]: signJobBinding(signingKey.privateKeyPem, {
      namespace: job.namespace,
      jobName: job.name,
      jobUID: job.uid,
      deh: job.envelopeHash,
    }),
  };
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
      annotations: jobPodAnnotations(input),
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
          downwardAPI: { items: [{ path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }] },
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
