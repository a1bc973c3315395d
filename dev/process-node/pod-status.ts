// Pod status as a kubelet reports it, written through the pods/status subresource with a strategic merge
// patch (conditions merge by type, so the scheduler's PodScheduled stays) and the Pod's UID as precondition,
// so a status never lands on a new Pod that reuses the name.
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../src/runtime/kube-http.ts';
import { resourcePath, type ResourceType } from '../../src/runtime/resource.ts';
import type { ContainerState, ContainerStatus, PodCondition, PodLike, PodPhase, PodStatusLike } from './pod-types.ts';

export const PODS: ResourceType = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };
export const NODE_HOST_IP = '127.0.0.1';

/** metav1.Time: RFC 3339 with second precision. */
export function kubeTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface StatusInput {
  phase: PodPhase;
  reason?: string;
  message?: string;
  startTime: string;
  podIP?: string | undefined;
  container: { name: string; image: string; containerID?: string; state: ContainerState };
  /** Init containers that ran, in order (all terminated). */
  initContainers?: readonly { name: string; image: string; state: ContainerState }[];
}

function condition(type: string, ok: boolean, now: string, reason?: string): PodCondition {
  return { type, status: ok ? 'True' : 'False', lastTransitionTime: now, lastProbeTime: null, ...(reason ? { reason } : {}) };
}

export function buildStatus(input: StatusInput): PodStatusLike {
  const now = kubeTime();
  const running = input.container.state.running !== undefined;
  const terminal = input.phase === 'Succeeded' || input.phase === 'Failed';
  const notReadyReason = terminal ? (input.phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed') : 'ContainersNotReady';
  const containerStatus: ContainerStatus = {
    name: input.container.name,
    image: input.container.image,
    imageID: input.container.image,
    ...(input.container.containerID ? { containerID: input.container.containerID } : {}),
    ready: running,
    started: running,
    restartCount: 0,
    state: input.container.state,
  };
  return {
    phase: input.phase,
    ...(input.reason ? { reason: input.reason } : {}),
    ...(input.message ? { message: input.message } : {}),
    conditions: [
      condition('PodReadyToStartContainers', !terminal && input.podIP !== undefined, now),
      condition('Initialized', input.container.state.waiting?.reason !== 'PodInitializing', now),
      condition('Ready', running, now, running ? undefined : notReadyReason),
      condition('ContainersReady', running, now, running ? undefined : notReadyReason),
      condition('PodScheduled', true, now),
    ],
    hostIP: NODE_HOST_IP,
    hostIPs: [{ ip: NODE_HOST_IP }],
    ...(input.podIP ? { podIP: input.podIP, podIPs: [{ ip: input.podIP }] } : {}),
    startTime: input.startTime,
    containerStatuses: [containerStatus],
    ...(input.initContainers !== undefined && input.initContainers.length > 0
      ? {
          initContainerStatuses: input.initContainers.map((c) => ({ name: c.name, image: c.image, imageID: c.image, ready: c.state.terminated?.exitCode === 0, started: false, restartCount: 0, state: c.state })),
        }
      : {}),
  };
}

export async function patchPodStatus(kc: KubeConfig, pod: PodLike, status: PodStatusLike): Promise<PodLike> {
  return kubeRequest<PodLike>(kc, {
    method: 'PATCH',
    path: resourcePath(PODS, { namespace: pod.metadata.namespace, name: pod.metadata.name, subresource: 'status' }),
    contentType: 'application/strategic-merge-patch+json',
    body: { metadata: { uid: pod.metadata.uid }, status },
  });
}

/** Final removal after the containers are gone, as a kubelet does: grace 0, only this Pod (UID precondition). */
export async function deletePodObject(kc: KubeConfig, pod: PodLike): Promise<void> {
  await kubeRequest(kc, {
    method: 'DELETE',
    path: resourcePath(PODS, { namespace: pod.metadata.namespace, name: pod.metadata.name }),
    body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } },
  });
}
