// The parts of the Pod and NetworkPolicy JSON the process node reads or writes. Raw apiserver JSON (not
// client-node's generated models, whose Date fields do not round-trip), so timestamps are strings.
import type { KubeObject, ObjectMeta } from '../../src/runtime/resource.ts';

export interface FieldRef {
  fieldPath: string;
  apiVersion?: string;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: FieldRef;
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    [other: string]: unknown;
  };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
  [other: string]: unknown;
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  supplementalGroups?: number[];
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  [other: string]: unknown;
}

export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: unknown[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
  [other: string]: unknown;
}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface Volume {
  name: string;
  emptyDir?: Record<string, unknown>;
  configMap?: { name: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  downwardAPI?: {
    items?: { path: string; fieldRef?: FieldRef; mode?: number; resourceFieldRef?: unknown }[];
    defaultMode?: number;
  };
  [other: string]: unknown;
}

export interface PodSpecLike {
  nodeName?: string;
  serviceAccountName?: string;
  containers: ContainerSpec[];
  initContainers?: ContainerSpec[];
  ephemeralContainers?: unknown[];
  volumes?: Volume[];
  restartPolicy?: string;
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
  securityContext?: SecurityContext;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  [other: string]: unknown;
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
  observedGeneration?: number;
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: {
    exitCode: number;
    signal?: number;
    reason?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
  };
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state: ContainerState;
  lastState?: ContainerState;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface PodStatusLike {
  phase?: PodPhase;
  reason?: string;
  message?: string;
  conditions?: PodCondition[];
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
  hostIP?: string;
  hostIPs?: { ip: string }[];
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
}

export interface PodLike extends KubeObject {
  metadata: ObjectMeta & { deletionGracePeriodSeconds?: number };
  spec: PodSpecLike;
  status?: PodStatusLike;
}

export function isTerminalPhase(phase: PodPhase | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

export function podRef(pod: Pick<PodLike, 'metadata'>): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
}
