// A compromised node on the real node (dev/cluster/real-node), where no fault injector sits between the
// kubelet and the runner: a copy of a minted job Pod whose downward-API files (the envelope, DEH, signature
// and job UID the runner reads) are replaced by a ConfigMap carrying forged values, run in a namespace of its
// own with the real public key. The Pod object carries no m87 annotations (admission lets only the controller
// create those), so this is exactly "the node hands the runner something other than what the Pod object
// says". The runner in the real image must refuse it before any step.
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../src/runtime/kube-http.ts';
import { forgeAnnotations, type AnnotationFault } from './faults.ts';
import { getPod, type PodView } from './observe.ts';
import { podLog } from './real-stack.ts';
import { ensureNamespace, parseRunnerReport, type RunnerReport } from './stack.ts';
import { waitUntil } from '../cluster/probe.ts';

export interface JobPodCopy extends PodView {
  spec: Record<string, unknown> & { volumes?: unknown[] };
}

interface Volume {
  name: string;
  downwardAPI?: { items: { path: string; fieldRef: { fieldPath: string } }[] };
}

export interface ForgedRun {
  readonly phase: string;
  readonly report: RunnerReport | undefined;
  readonly log: string;
}

const PUBLIC_KEY_CONFIG_MAP = 'm87-signing-public-key';

/** The job Pod's spec with every downward-API volume replaced by ConfigMap `configMap` (files → forged values). */
export function forgedPodinfo(pod: JobPodCopy, fault: AnnotationFault, configMap: string): { spec: Record<string, unknown>; files: Record<string, string> } {
  const forged = forgeAnnotations(new Map(Object.entries(pod.metadata.annotations ?? {})), fault);
  const files: Record<string, string> = {};
  const volumes = ((pod.spec.volumes ?? []) as Volume[]).map((v) => {
    if (v.downwardAPI === undefined) return v;
    const items = v.downwardAPI.items.map((item, i) => {
      const annotation = /^metadata\.annotations\['(.+)'\]$/.exec(item.fieldRef.fieldPath)?.[1];
      const value = annotation === undefined ? undefined : forged.get(annotation);
      if (value === undefined) throw new Error(`downward-API item ${item.fieldRef.fieldPath} is not an m87 annotation of the Pod`);
      files[`${v.name}-${i}`] = value;
      return { key: `${v.name}-${i}`, path: item.path };
    });
    return { name: v.name, configMap: { name: configMap, items } };
  });
  return { spec: { ...pod.spec, volumes }, files };
}

/** Runs the forged copy of `pod` (from `jobNamespace`) as Pod `name` in `namespace` and waits for its end. */
export async function runForgedCopy(admin: KubeConfig, o: { pod: JobPodCopy; jobNamespace: string; namespace: string; name: string; fault: AnnotationFault }): Promise<ForgedRun> {
  await ensureNamespace(admin, o.namespace);
  const key = await kubeRequest<{ data?: Record<string, string> }>(admin, { method: 'GET', path: `/api/v1/namespaces/${o.jobNamespace}/configmaps/${PUBLIC_KEY_CONFIG_MAP}` });
  const configMap = `${o.name}-podinfo`;
  const { spec, files } = forgedPodinfo(o.pod, o.fault, configMap);
  for (const [name, data] of [[PUBLIC_KEY_CONFIG_MAP, key.data], [configMap, files]] as const) {
    try {
      await kubeRequest(admin, { method: 'POST', path: `/api/v1/namespaces/${o.namespace}/configmaps`, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data } });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
  // The namespace's default ServiceAccount must exist before a Pod can be admitted there.
  await waitUntil(() => kubeRequest(admin, { method: 'GET', path: `/api/v1/namespaces/${o.namespace}/serviceaccounts/default` }).catch(() => undefined), {
    what: `the default ServiceAccount in ${o.namespace}`,
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  await kubeRequest(admin, { method: 'POST', path: `/api/v1/namespaces/${o.namespace}/pods`, body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: o.name, namespace: o.namespace }, spec } });
  const done = await waitUntil(
    async () => {
      const p = await getPod(admin, o.namespace, o.name);
      return p?.status?.phase === 'Failed' || p?.status?.phase === 'Succeeded' ? p : undefined;
    },
    { what: `the forged Pod ${o.namespace}/${o.name} to finish`, timeoutMs: 90_000, intervalMs: 250 },
  );
  const log = await podLog(admin, o.namespace, o.name);
  return { phase: done.status?.phase ?? '', report: parseRunnerReport(log), log };
}
