// One chaos scenario's world on the real control plane: a controller namespace, a job namespace enforcing Pod
// Security "restricted" (where agents propose and job Pods are created), agents as real ServiceAccounts with
// RBAC to propose and listed as subjects of an AgentProfile, and a GovernancePolicy. Cluster-scoped objects get
// names unique to the scenario, so each scenario's controller decides under its own policy.
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll } from 'vitest';
import type { AgentProfileSpec } from '../../../src/api/agent-profile.ts';
import { installCrds } from '../../../dev/codegen/install.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import type { GovernancePolicySpec } from '../../../src/api/governance-policy.ts';
import { AGENT_PROFILES, GOVERNANCE_POLICIES } from '../../../src/controller/resources.ts';
import type { ControlPlane } from '../../../dev/cluster/plane.ts';
import { attachControlPlane } from '../../../dev/cluster/plane.ts';
import { httpGet } from '../../../dev/cluster/probe.ts';
import { serviceAccountUsername } from '../../../dev/cluster/service-account.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { clusterInfo, clusterKubeConfig, serviceAccountKubeConfig, testNamespace } from '../../support/kube.ts';
import { TEST_RUN_LABEL } from '../../support/namespaces.ts';
import { installTestTools } from '../../support/tools.ts';

export const RUNNER_IMAGE = 'ghcr.io/m87/m87:chaos';

export interface Agent {
  /** ServiceAccount name in the job namespace. */
  readonly name: string;
  /** system:serviceaccount:<ns>:<name> */
  readonly username: string;
  readonly kubeConfig: KubeConfig;
}

export interface ChaosEnv {
  readonly suffix: string;
  /** Where agents propose and the job Pods run. */
  readonly namespace: string;
  /** The controller's namespace: Lease, signing key, challenge secret. */
  readonly controllerNamespace: string;
  readonly policyName: string;
  readonly policySpec: GovernancePolicySpec;
  readonly profileName: string;
  readonly profileSpec: AgentProfileSpec;
  readonly agents: readonly Agent[];
  readonly admin: KubeConfig;
  /** The kubeconfig file of the test cluster (context admin = system:masters). */
  readonly kubeconfigPath: string;
}

export interface ChaosEnvOptions {
  /** How many agent ServiceAccounts (all subjects of one AgentProfile); default 4. */
  readonly agents?: number;
  /** Effects the profile allows; default Casey's (READ_REPO, COMPUTE, WRITE_PATCH, RUN_TESTS). */
  readonly allowedEffects?: AgentProfileSpec['allowedEffects'];
  readonly maxRisk?: number;
}

export const admin = clusterKubeConfig('admin');

/** The local plane behind the test cluster, when there is one (faults need its processes and state). */
export function localPlane(): ControlPlane | undefined {
  const info = clusterInfo();
  return attachControlPlane(info.stateDir ?? dirname(info.kubeconfigPath));
}

/**
 * Resolves with performance.now() of the first answer of kube-apiserver (GET /version, served before /readyz
 * turns green) after it was seen down; start it before the fault.
 */
export async function apiBackAfterOutage(plane: ControlPlane, timeoutMs = 120_000): Promise<number> {
  let sawDown = false;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const up = await httpGet(`${plane.server}/version`, { caPem: plane.caPem, timeoutMs: 1000 }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (!up) sawDown = true;
    else if (sawDown) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`kube-apiserver did not come back within ${timeoutMs} ms`);
}

async function post(path: string, body: unknown): Promise<KubeObject> {
  return kubeRequest<KubeObject>(admin, { method: 'POST', path, body });
}

/**
 * Waits (up to a minute) until the namespaces earlier scenarios of this run deleted are gone: every scenario's
 * controller watches the whole cluster, and should not spend the scenario working on someone else's leftovers.
 */
async function earlierScenariosGone(): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const list = await kubeRequest<{ items: KubeObject[] }>(admin, { method: 'GET', path: '/api/v1/namespaces', query: { labelSelector: `${TEST_RUN_LABEL}=${clusterInfo().runId}` } });
    if (!list.items.some((ns) => ns.metadata.deletionTimestamp !== undefined)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function setupChaosEnv(prefix: string, opts: ChaosEnvOptions = {}): Promise<ChaosEnv> {
  await installCrds(admin);
  await installTestTools(admin);
  await earlierScenariosGone();
  const suffix = randomBytes(3).toString('hex');
  const controllerNamespace = await testNamespace(`${prefix}-ctl`);
  const namespace = await testNamespace(`${prefix}-jobs`);
  await kubeRequest(admin, {
    method: 'PATCH',
    path: `/api/v1/namespaces/${namespace}`,
    contentType: 'application/merge-patch+json',
    body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } } },
  });
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}`;
  await post(`${rbac}/roles`, {
    metadata: { name: 'chaos-agent' },
    rules: [
      { apiGroups: ['governance.m87.io'], resources: ['proposals'], verbs: ['create', 'get', 'list', 'watch'] },
      { apiGroups: ['governance.m87.io'], resources: ['decisions', 'jobs'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  const agentNames = Array.from({ length: opts.agents ?? 4 }, (_, i) => `agent-${i}`);
  await post(`${rbac}/rolebindings`, {
    metadata: { name: 'chaos-agents' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'chaos-agent' },
    subjects: agentNames.map((name) => ({ kind: 'ServiceAccount', name, namespace })),
  });
  const agents: Agent[] = [];
  for (const name of agentNames) {
    agents.push({ name, username: serviceAccountUsername(namespace, name), kubeConfig: await serviceAccountKubeConfig(namespace, name) });
  }

  const profileName = `chaos-${prefix}-${suffix}`;
  const casey = DEFAULT_AGENT_PROFILES.casey;
  if (casey === undefined) throw new Error('the default agent profiles have no casey');
  const profileSpec: AgentProfileSpec = {
    displayName: 'Chaos agent',
    description: `Agents of the ${prefix} chaos scenario.`,
    subjects: agents.map((a) => a.username),
    allowedEffects: opts.allowedEffects ?? casey.allowedEffects,
    maxRisk: opts.maxRisk ?? casey.maxRisk,
  };
  await post(resourcePath(AGENT_PROFILES, {}), { apiVersion: API_VERSION, kind: 'AgentProfile', metadata: { name: profileName }, spec: profileSpec });

  const policyName = `chaos-${prefix}-${suffix}`;
  const policySpec: GovernancePolicySpec = {
    ...structuredClone(DEFAULT_POLICY_SPEC),
    // Bursts of hundreds of proposals by a handful of agents: the rate limit is not under test here.
    rateLimit: { proposalsPerMinute: 10000 },
    approvals: { ...DEFAULT_POLICY_SPEC.approvals, challengeSecretRef: { namespace: controllerNamespace, name: 'm87-challenge-secret', key: 'secret' } },
  };
  await post(resourcePath(GOVERNANCE_POLICIES, {}), { apiVersion: API_VERSION, kind: 'GovernancePolicy', metadata: { name: policyName }, spec: policySpec });

  afterAll(async () => {
    for (const path of [resourcePath(GOVERNANCE_POLICIES, { name: policyName }), resourcePath(AGENT_PROFILES, { name: profileName })]) {
      await kubeRequest(admin, { method: 'DELETE', path }).catch(() => undefined);
    }
    // Job Pods are never bound (no node runs them here); delete them at once so the namespace goes quickly.
    await kubeRequest(admin, {
      method: 'DELETE',
      path: `/api/v1/namespaces/${namespace}/pods`,
      body: { gracePeriodSeconds: 0 },
    }).catch(() => undefined);
  });

  return {
    suffix,
    namespace,
    controllerNamespace,
    policyName,
    policySpec,
    profileName,
    profileSpec,
    agents,
    admin,
    kubeconfigPath: clusterInfo().kubeconfigPath,
  };
}
