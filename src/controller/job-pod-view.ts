// A job Pod as the controller reads it: the Pod informer caches this view and nothing else, and the job
// reconciler reads a Pod it GETs (cache behind) through the same view. What it keeps is what the reads need:
// - metadata without managedFields, kubectl's last-applied copy and the job-binding annotations (the
//   owner reference, name, uid, timestamps, labels and every other annotation stay);
// - the job-binding annotations (ANNOTATIONS: the signed envelope, DEH, signature, key id, job UID) as
//   `binding`, the envelope one (canonical JSON of the whole envelope, the largest value of a job Pod) as the
//   SHA-256 of its value: podAnnotationMismatch compares the digest of what the Job's Pod must carry;
// - of the spec, each container's name and image (stepImageMismatch);
// - per step container, the output names its Tool spec declares (M87_TOOL_SPEC env, read by declaredOutputs),
//   instead of the spec's JSON;
// - of the status, what podProgress and stepImageMismatch read (phase, reason, message, startTime and the
//   container statuses); conditions, addresses and the QoS class are dropped.
import { ANNOTATIONS } from '../api/group.ts';
import { sha256Hex } from '../hash/canonical.ts';
import type { KubeObject, ObjectMeta } from '../runtime/resource.ts';

/** The env entry of a step container that carries its Tool spec (job-pod.ts). */
export const TOOL_SPEC_ENV = 'M87_TOOL_SPEC';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export type BindingKey = keyof typeof ANNOTATIONS;
const BINDING_KEYS = Object.keys(ANNOTATIONS) as BindingKey[];
const BINDING_ANNOTATIONS: ReadonlySet<string> = new Set(Object.values(ANNOTATIONS));

export interface ContainerView {
  readonly name: string | undefined;
  readonly image: string | undefined;
}

export interface JobPodView extends KubeObject {
  /** Without managedFields, last-applied and the binding annotations (those are in `binding`). */
  metadata: ObjectMeta;
  spec: { readonly initContainers: readonly ContainerView[]; readonly containers: readonly ContainerView[] };
  status?: {
    readonly phase?: string;
    readonly reason?: string;
    readonly message?: string;
    readonly startTime?: string;
    readonly containerStatuses?: readonly unknown[];
    readonly initContainerStatuses?: readonly unknown[];
  };
  /**
   * The job-binding annotations as the Pod carried them (undefined: absent); `envelope` is the SHA-256 (hex)
   * of that annotation's value, not the value.
   */
  binding: Readonly<Record<BindingKey, string | undefined>>;
  /**
   * Per init container carrying a Tool spec (first of a name wins): the output names the spec declares, or
   * null when it cannot be read. A container without M87_TOOL_SPEC has no entry.
   */
  stepOutputs: Readonly<Record<string, readonly string[] | null>>;
}

type RawContainer = { name?: unknown; image?: unknown; env?: unknown };

const containers = (cs: unknown): ContainerView[] =>
  Array.isArray(cs) ? (cs as RawContainer[]).map((c) => ({ name: str(c.name), image: str(c.image) })) : [];

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The output names a Tool spec (JSON) declares, or null when they cannot be read (fail closed). */
export function toolSpecOutputs(spec: string): readonly string[] | null {
  let outputs: unknown;
  try {
    outputs = (JSON.parse(spec) as { workspace?: { outputs?: unknown } } | null)?.workspace?.outputs;
  } catch {
    return null;
  }
  if (!Array.isArray(outputs)) return null;
  const names: string[] = [];
  for (const o of outputs as ({ name?: unknown } | null)[]) {
    if (typeof o?.name !== 'string') return null;
    names.push(o.name);
  }
  return names;
}

function stepOutputsOf(initContainers: unknown): Record<string, readonly string[] | null> {
  const out: Record<string, readonly string[] | null> = {};
  if (!Array.isArray(initContainers)) return out;
  for (const c of initContainers as RawContainer[]) {
    const name = str(c.name);
    if (name === undefined || Object.hasOwn(out, name)) continue;
    const env = Array.isArray(c.env) ? (c.env as { name?: unknown; value?: unknown }[]).find((e) => e.name === TOOL_SPEC_ENV) : undefined;
    if (env === undefined) continue;
    out[name] = typeof env.value === 'string' ? toolSpecOutputs(env.value) : null;
  }
  return out;
}

const STATUS_FIELDS = ['phase', 'reason', 'message', 'startTime', 'containerStatuses', 'initContainerStatuses'] as const;

/** The view of a job Pod (as served by the API server, or already a view: then returned as it is). */
export function jobPodView(pod: KubeObject): JobPodView {
  if (isJobPodView(pod)) return pod;
  const { managedFields: _managedFields, annotations, ...meta } = pod.metadata;
  const binding = {} as Record<BindingKey, string | undefined>;
  for (const k of BINDING_KEYS) {
    const v = annotations?.[ANNOTATIONS[k]];
    binding[k] = v === undefined ? undefined : k === 'envelope' ? sha256Hex(v) : v;
  }
  const kept = Object.entries(annotations ?? {}).filter(([k]) => k !== LAST_APPLIED && !BINDING_ANNOTATIONS.has(k));
  const metadata: ObjectMeta = kept.length > 0 ? { ...meta, annotations: Object.fromEntries(kept) } : meta;
  const spec = (pod.spec ?? {}) as { initContainers?: unknown; containers?: unknown };
  const rawStatus = pod.status as Record<string, unknown> | undefined;
  let status: JobPodView['status'];
  if (rawStatus !== null && typeof rawStatus === 'object') {
    status = Object.fromEntries(STATUS_FIELDS.filter((f) => rawStatus[f] !== undefined).map((f) => [f, rawStatus[f]]));
  }
  return {
    ...(pod.apiVersion !== undefined ? { apiVersion: pod.apiVersion } : {}),
    ...(pod.kind !== undefined ? { kind: pod.kind } : {}),
    metadata,
    spec: { initContainers: containers(spec.initContainers), containers: containers(spec.containers) },
    ...(status !== undefined ? { status } : {}),
    binding,
    stepOutputs: stepOutputsOf(spec.initContainers),
  };
}

function isJobPodView(obj: KubeObject): obj is JobPodView {
  return typeof obj.binding === 'object' && obj.binding !== null && typeof obj.stepOutputs === 'object' && obj.stepOutputs !== null;
}
