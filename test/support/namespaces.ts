// Test namespaces carry the run's id, so a run against an existing cluster can remove what it created even
// when a test file crashed before its own cleanup.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

export const TEST_RUN_LABEL = 'm87.io/test-run';

export async function deleteTestNamespacesOfRun(cluster: { readonly kubeconfigPath: string }, runId: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const namespaces = await core.listNamespace({ labelSelector: `${TEST_RUN_LABEL}=${runId}` });
  await Promise.all(
    namespaces.items.map((ns) => core.deleteNamespace({ name: ns.metadata?.name ?? '' }).catch(() => undefined)),
  );
}
