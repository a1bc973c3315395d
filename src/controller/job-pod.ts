// The job Pod (docs/dev/pod-contract.md): no credentials, restricted security context, and the Job's signed
// envelope — the signature made when the Job was minted, never a second one — as annotations, each projected
// into a file of its own by a downward-API volume.
import type { EffectiveEnvelope } from '../api/envelope.ts';
import { ANNOTATIONS, PODINFO_FILES } from '../api/group.ts';
import { canonicalJson, sha256Hex } from '../hash/canonical.ts';
import type { ToolSpec } from '../api/tool.ts';
import { DELIVERED_RUNNER_DIR, deliveredRunnerCommand } from '../api/step-pod.ts';
import type { BindingKey, JobPodView } from './job-pod-view.ts';
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
  /**
   * The tool definitions of the envelope's steps (name → Tool spec, from the catalogue the controller checked
   * with checkToolBindings just before): each step runs in its tool's image (see buildJobPod).
   */
  tools: Readonly<Record<string, ToolSpec>>;
}

export const STATE_DIR = '/m87-state';
export const INSTALL_CONTAINER = 'install-runner';
export const stepContainerName = (index: number): string => `step-${index}`;

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
 * The Pod is read through its view (job-pod-view.ts): the envelope annotation is compared by its SHA-256.
 */
export function podAnnotationMismatch(pod: Pick<JobPodView, 'binding'>, job: SignedJob): string | undefined {
  const expected: Record<BindingKey, () => string> = {
    envelope: () => envelopeAnnotationDigest(job.envelope),
    envelopeHash: () => job.envelopeHash,
    signature: () => job.signature,
    keyId: () => job.keyId,
    jobUID: () => job.uid,
  };
  for (const k of Object.keys(ANNOTATIONS) as BindingKey[]) {
    if (pod.binding[k] !== expected[k]()) return ANNOTATIONS[k];
  }
  return undefined;
}

/**
 * SHA-256 of the envelope annotation (the envelope's canonical JSON), as the Pod's view holds it. A Job's Pod is
 * checked against its Job at every event of either; the digest of a cached (frozen, so unchanging) envelope is
 * taken once. An envelope that is not frozen is serialised every time.
 */
const envelopeDigests = new WeakMap<object, string>();
export function envelopeAnnotationDigest(envelope: SignedJob['envelope']): string {
  let digest = envelopeDigests.get(envelope);
  if (digest === undefined) {
    digest = sha256Hex(canonicalJson(envelope));
    if (Object.isFrozen(envelope)) envelopeDigests.set(envelope, digest);
  }
  return digest;
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
  initContainers?: JobPodContainer[];
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

const RESTRICTED = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

function podinfoVolume(): JobPodVolume {
  return {
    name: 'podinfo',
    downwardAPI: {
      items: (Object.keys(PODINFO_FILES) as (keyof typeof PODINFO_FILES)[]).map((k) => ({
        path: PODINFO_FILES[k],
        fieldRef: { fieldPath: `metadata.annotations['${ANNOTATIONS[k]}']` },
      })),
    },
  };
}

const VERIFY_ENV = [
  { name: 'M87_PODINFO_DIR', value: PODINFO_DIR },
  { name: 'M87_PUBLIC_KEY_FILE', value: `${KEYS_DIR}/${PUBLIC_KEY_FILE_KEY}` },
];
const VERIFY_MOUNTS = [
  { name: 'podinfo', mountPath: PODINFO_DIR, readOnly: true },
  { name: 'signing-key', mountPath: KEYS_DIR, readOnly: true },
];

/**
 * The step Pod (docs/architecture.md, "Job execution"): init container `install-runner` (m87 image) delivers
 * the runner into the `m87` emptyDir; init container `step-<i>` runs step i in its tool's image (the image the
 * envelope binds), its command the delivered runner, which verifies everything again, checks the tool
 * definition (M87_TOOL_SPEC) against the envelope's toolHash and runs the tool; the `workspace` emptyDir is
 * mounted writable only in steps whose tool writes it (or checks a repository out into it), read-only where the
 * tool only reads it and not at all where it takes none; main container `runner` (m87 image) composes the receipt
 * into its termination message and prints the declared outputs as framed blocks to its log.
 */
function stepPodParts(input: JobPodInput, resources: ResourceRequirements): Pick<JobPodSpec, 'initContainers' | 'containers' | 'volumes'> {
  const { job } = input;
  const tools = input.tools;
  const stateMount = { name: 'state', mountPath: STATE_DIR };
  const container = (name: string, image: string, command: string[], env: { name: string; value: string }[], volumeMounts: JobPodContainer['volumeMounts']): JobPodContainer => ({
    name,
    image,
    imagePullPolicy: 'IfNotPresent',
    command,
    env,
    securityContext: RESTRICTED,
    terminationMessagePath: TERMINATION_LOG,
    terminationMessagePolicy: 'File',
    resources,
    volumeMounts,
  });
  const install = container(INSTALL_CONTAINER, job.envelope.image, ['m87', 'install-runner', DELIVERED_RUNNER_DIR], [{ name: 'M87_STATE_DIR', value: STATE_DIR }], [
    { name: 'm87', mountPath: DELIVERED_RUNNER_DIR },
    stateMount,
  ]);
  const steps = job.envelope.steps.map((step, i) => {
    const tool = Object.hasOwn(tools, step.tool) ? tools[step.tool] : undefined;
    if (tool === undefined || step.image === undefined) throw new Error(`steps[${i}]: no tool definition or image for ${step.tool}`);
    const writes = tool.workspace.access === 'writable' || tool.workspace.git !== undefined;
    const mounts: JobPodContainer['volumeMounts'] = [...VERIFY_MOUNTS, { name: 'm87', mountPath: DELIVERED_RUNNER_DIR, readOnly: true }, stateMount, { name: 'tmp', mountPath: '/tmp' }];
    const env = [...VERIFY_ENV, { name: 'M87_STATE_DIR', value: STATE_DIR }, { name: 'M87_TOOL_SPEC', value: canonicalJson(tool) }, { name: 'M87_TOOL_IMAGE', value: step.image }];
    if (tool.workspace.access !== 'none' || tool.workspace.git !== undefined) {
      mounts.push({ name: 'workspace', mountPath: WORKSPACE_DIR, ...(writes ? {} : { readOnly: true }) });
      env.push({ name: 'M87_WORKSPACE', value: WORKSPACE_DIR });
    }
    return container(stepContainerName(i), step.image, deliveredRunnerCommand(DELIVERED_RUNNER_DIR, ['step', String(i)]), env, mounts);
  });
  const runner = container(RUNNER_CONTAINER, job.envelope.image, ['m87', 'runner'], [...VERIFY_ENV, { name: 'M87_STATE_DIR', value: STATE_DIR }, { name: 'M87_TERMINATION_LOG', value: TERMINATION_LOG }], [
    ...VERIFY_MOUNTS,
    { ...stateMount, readOnly: true },
  ]);
  return {
    initContainers: [install, ...steps],
    containers: [runner],
    volumes: [
      podinfoVolume(),
      { name: 'signing-key', configMap: { name: input.publicKeyConfigMap, items: [{ key: PUBLIC_KEY_FILE_KEY, path: PUBLIC_KEY_FILE_KEY }] } },
      { name: 'workspace', emptyDir: {} },
      { name: 'tmp', emptyDir: {} },
      { name: 'm87', emptyDir: {} },
      { name: 'state', emptyDir: {} },
    ],
  };
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
      ...stepPodParts(input, resources),
    },
  };
}

interface ImageStatus {
  name: string;
  image?: string;
  imageID?: string;
  state?: { waiting?: unknown; running?: unknown; terminated?: unknown };
  lastState?: { terminated?: unknown };
}

/**
 * A container the kubelet lists but never started: still waiting (e.g. PodInitializing after an earlier init
 * container failed), no image reported and no earlier run. The real kubelet reports these; nothing ran in them.
 */
function neverStarted(status: ImageStatus): boolean {
  const present = (v: unknown): boolean => v !== undefined && v !== null;
  return present(status.state?.waiting) && !present(status.state?.running) && !present(status.state?.terminated) && (status.imageID ?? '') === '' && !present(status.lastState?.terminated);
}

/**
 * For a terminated step Pod: the first container whose image is not the one the envelope binds, or undefined
 * when every step ran its bound image. A Pod's container images are mutable after creation and the runner
 * cannot see its own image (M87_TOOL_IMAGE is what the Pod was created with), so the controller checks both
 * the spec and what the kubelet reports having run (`imageID`, `repository@sha256:…`, must carry the bound
 * digest) before it believes a step Pod's receipt. Fail closed: a step that ran with no reported imageID,
 * or an imageID without the bound digest, is a mismatch; only a container still waiting that never ran
 * (no imageID, no earlier termination) is skipped.
 */
export function stepImageMismatch(
  pod: { spec?: { initContainers?: readonly { name?: string | undefined; image?: string | undefined }[] }; status?: { initContainerStatuses?: readonly unknown[] } },
  envelope: EffectiveEnvelope,
): string | undefined {
  const specs = new Map((pod.spec?.initContainers ?? []).map((c) => [c.name, c.image]));
  const statuses = new Map(((pod.status?.initContainerStatuses ?? []) as readonly ImageStatus[]).map((c) => [c.name, c]));
  for (const [i, step] of envelope.steps.entries()) {
    const name = stepContainerName(i);
    if (step.image === undefined) return `${name}: steps[${i}] binds no image`;
    if (specs.get(name) !== step.image) return `${name}: spec image ${String(specs.get(name))} is not the bound ${step.image}`;
    const status = statuses.get(name);
    // Never started (an earlier step failed or was refused): nothing ran — absent, or listed as waiting with no image.
    if (status === undefined || neverStarted(status)) continue;
    const digest = step.image.slice(step.image.indexOf('@') + 1);
    const ran = status.imageID ?? '';
    if (!ran.endsWith(`@${digest}`) && ran !== step.image) return `${name}: ran image ${ran === '' ? '(none reported)' : ran}, not ${step.image}`;
  }
  return undefined;
}
