// vitest globalSetup for the integration and e2e tiers: one real local control plane per run, or the
// existing cluster whose kubeconfig M87_KUBECONFIG names (e.g. one from `npm run cluster -- up`, which
// skips the plane's start on every run). Test files reach it through test/support/kube.ts.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { startControlPlane } from '../../dev/cluster/plane.ts';
import { deleteTestNamespacesOfRun } from './namespaces.ts';

export interface M87ClusterInfo {
  readonly kubeconfigPath: string;
  readonly server: string;
  /** The plane's state directory; null when the run uses an existing cluster (M87_KUBECONFIG). */
  readonly stateDir: string | null;
  /** Labels every namespace made by testNamespace() in this run (cleanup of an existing cluster). */
  readonly runId: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    m87Cluster: M87ClusterInfo;
  }
}

const log = (line: string): void => {
  process.stderr.write(`m87 test cluster: ${line}\n`);
};

async function useExistingCluster(kubeconfigPath: string, runId: string): Promise<M87ClusterInfo> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error(`M87_KUBECONFIG=${kubeconfigPath}: the current context names no cluster`);
  try {
    const version = await kc.makeApiClient(VersionApi).getCode();
    log(`using the existing cluster at ${server} (${version.gitVersion}) from M87_KUBECONFIG`);
  } catch (error) {
    throw new Error(`M87_KUBECONFIG=${kubeconfigPath}: cannot reach ${server}: ${(error as Error).message}`, { cause: error });
  }
  return { kubeconfigPath, server, stateDir: null, runId };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = randomBytes(4).toString('hex');
  const existing = process.env.M87_KUBECONFIG;
  if (existing !== undefined && existing !== '') {
    const info = await useExistingCluster(existing, runId);
    project.provide('m87Cluster', info);
    return async () => {
      await deleteTestNamespacesOfRun(info, runId);
    };
  }
  const started = performance.now();
  const plane = await startControlPlane({ onProgress: process.env.M87_VERBOSE === '1' ? log : undefined });
  log(`started ${plane.server} in ${((performance.now() - started) / 1000).toFixed(1)} s (state: ${plane.stateDir})`);
  project.provide('m87Cluster', { kubeconfigPath: plane.kubeconfigPath, server: plane.server, stateDir: plane.stateDir, runId });
  return async () => {
    await plane.stop();
  };
}
