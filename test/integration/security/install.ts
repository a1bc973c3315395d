// Installs the chart's security templates for one test file and removes them afterwards. The cluster-scoped
// parts (ClusterRoles, admission policies) are shared by the whole API server, so the removal waits until
// no policy is in force any more: the next test file must not see ours.
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { installCrds } from '../../../dev/codegen/install.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { waitForAdmissionPolicies, waitForAdmissionPoliciesRemoved } from '../../../dev/security/admission-ready.ts';
import { applyObjects, deleteObjects, remainingObjects } from '../../../dev/security/apply.ts';
import { renderSecurityManifests, type RenderedObject, type SecurityValues } from '../../../dev/security/chart.ts';
import { objectPath } from '../../../dev/security/resources.ts';
import { TEST_RUN_LABEL } from '../../support/namespaces.ts';
import { clusterInfo, clusterKubeConfig, testNamespace, waitFor } from '../../support/kube.ts';
import { AGENT_SA } from './identities.ts';
import { installTestTools } from '../../support/tools.ts';

export const CONTROLLER_SA = 'm87-controller';

export interface InstalledSecurity {
  admin: KubeConfig;
  controllerNamespace: string;
  /** A namespace with no agent binding and no job-namespace label. */
  otherNamespace: string;
  /** Created by the chart: Pod Security restricted, agents bound. */
  jobNamespace: string;
  /** Random suffix for cluster-scoped names of this file. */
  suffix: string;
  values: SecurityValues;
  manifests: RenderedObject[];
}

export interface InstallOptions {
  /** Human users bound as agents in the job namespace (they may submit Proposals there). */
  agentUsers?: string[];
  /** Cleanup to run before the chart's objects are removed (e.g. stop a controller). */
  beforeRemove?: () => Promise<void>;
}

/** Call at the top level of a test file. */
export async function installSecurity(prefix: string, options: InstallOptions = {}): Promise<InstalledSecurity> {
  const admin = clusterKubeConfig('admin');
  await installCrds(admin);
  await installTestTools(admin);
  const controllerNamespace = await testNamespace(`${prefix}-ctl`);
  const otherNamespace = await testNamespace(`${prefix}-other`);
  const suffix = randomBytes(3).toString('hex');
  const jobNamespace = `${prefix}-jobs-${suffix}`;
  const values: SecurityValues = {
    controller: { namespace: controllerNamespace, serviceAccount: { create: true, name: CONTROLLER_SA } },
    agents: { namespaces: [{ namespace: jobNamespace, serviceAccounts: [AGENT_SA], users: options.agentUsers ?? [] }] },
    jobNamespaces: [jobNamespace],
  };
  const manifests = renderSecurityManifests({ namespace: controllerNamespace, values });
  const clusterScoped = manifests.filter((m) => m.metadata.namespace === undefined && m.kind !== 'Namespace');

  afterAll(async () => {
    await options.beforeRemove?.();
    // Job Pods may have been bound to a node without a kubelet: delete them at once so the namespace goes.
    const pods = await kubeRequest<{ items: { metadata: { name: string } }[] }>(admin, { method: 'GET', path: `/api/v1/namespaces/${jobNamespace}/pods` }).catch(
      () => ({ items: [] }),
    );
    for (const pod of pods.items) {
      const path = objectPath({ kind: 'Pod', metadata: { name: pod.metadata.name, namespace: jobNamespace } });
      await kubeRequest(admin, { method: 'DELETE', path, body: { gracePeriodSeconds: 0 } }).catch(() => undefined);
    }
    await deleteObjects(admin, manifests);
    await waitFor(async () => (await remainingObjects(admin, clusterScoped)).length === 0, { what: 'the security objects to be deleted' });
    await waitForAdmissionPoliciesRemoved(admin, { namespace: otherNamespace });
  });

  await applyObjects(admin, manifests);
  // The run's cleanup (test/support) then also finds the chart-made namespace.
  await kubeRequest(admin, {
    method: 'PATCH',
    path: `/api/v1/namespaces/${jobNamespace}`,
    contentType: 'application/merge-patch+json',
    body: { metadata: { labels: { [TEST_RUN_LABEL]: clusterInfo().runId } } },
  });
  await waitForAdmissionPolicies(admin, { namespace: jobNamespace, jobNamespace });
  return { admin, controllerNamespace, otherNamespace, jobNamespace, suffix, values, manifests };
}

/** Polls until kc may GET path (a 404 counts: the request was authorized), i.e. RBAC bindings are in effect. */
export async function waitForAccess(kc: KubeConfig, path: string, who: string): Promise<void> {
  await waitFor(
    async () => {
      try {
        await kubeRequest(kc, { method: 'GET', path });
        return true;
      } catch (error) {
        return (error as { code?: unknown }).code === 404;
      }
    },
    { what: `RBAC for ${who} on ${path}` },
  );
}
