// Pods for the process node tests: restricted-profile compatible, pinned to one node, running a node -e
// script through the test image mapping.
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import type { ImageMapping } from '../../../dev/process-node/image-map.ts';
import { PODS } from '../../../dev/process-node/pod-status.ts';
import type { ContainerSpec, PodLike, PodSpecLike, Volume } from '../../../dev/process-node/pod-types.ts';
import { waitFor } from '../../support/kube.ts';

export const TEST_IMAGE = 'test.m87.invalid/node:1';
export const testImageMap: ImageMapping[] = [{ image: 'test.m87.invalid/node:*', executables: { node: [process.execPath] } }];

export interface TestPodOptions {
  name: string;
  namespace: string;
  nodeName: string;
  script: string;
  env?: ContainerSpec['env'];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  volumes?: Volume[];
  volumeMounts?: ContainerSpec['volumeMounts'];
  image?: string;
  runAsUser?: number;
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
}

export function testPod(o: TestPodOptions): PodLike {
  const uid = o.runAsUser ?? 65532;
  const spec: PodSpecLike = {
    nodeSelector: { 'kubernetes.io/hostname': o.nodeName },
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } },
    ...(o.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: o.activeDeadlineSeconds } : {}),
    ...(o.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: o.terminationGracePeriodSeconds } : {}),
    containers: [
      {
        name: 'main',
        image: o.image ?? TEST_IMAGE,
        command: ['node', '-e', o.script],
        env: [{ name: 'TERMINATION_LOG', value: '/dev/termination-log' }, ...(o.env ?? [])],
        volumeMounts: o.volumeMounts ?? [],
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
      },
    ],
    volumes: o.volumes ?? [],
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: o.namespace, annotations: o.annotations ?? {}, labels: o.labels ?? {} },
    spec,
  };
}

export async function createPod(kc: KubeConfig, pod: PodLike): Promise<PodLike> {
  return kubeRequest<PodLike>(kc, { method: 'POST', path: resourcePath(PODS, { namespace: pod.metadata.namespace }), body: pod });
}

export async function readPod(kc: KubeConfig, namespace: string, name: string): Promise<PodLike> {
  return kubeRequest<PodLike>(kc, { method: 'GET', path: resourcePath(PODS, { namespace, name }) });
}

export async function waitForPhase(kc: KubeConfig, namespace: string, name: string, phases: string[], timeoutMs = 45_000): Promise<PodLike> {
  return waitFor(
    async () => {
      const pod = await readPod(kc, namespace, name);
      return phases.includes(pod.status?.phase ?? '') ? pod : undefined;
    },
    { what: `Pod ${namespace}/${name} in phase ${phases.join('|')}`, timeoutMs },
  );
}

/** A script prefix: writes its JSON report to the termination-message file. */
export const REPORT = `const fs = require('node:fs'); const report = (o) => fs.writeFileSync(process.env.TERMINATION_LOG, JSON.stringify(o));`;
