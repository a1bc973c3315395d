// What a bench run puts into its fresh control plane: the CRDs, the `default` GovernancePolicy (the
// shipped spec with the per-submitter rate limit raised to its maximum, so the bench measures the
// controller and not the throttle), the shipped AgentProfiles with the bench submitters added to `casey`,
// and per phase a namespace (Pod Security "restricted", so ALLOW proposals get their Pods) with agent
// ServiceAccounts that may create Proposals there.
import type { KubeConfig } from '@kubernetes/client-node';
import type { AgentProfileSpec } from '../src/api/agent-profile.ts';
import { installCrds } from '../dev/codegen/install.ts';
import type { GovernancePolicySpec } from '../src/api/governance-policy.ts';
import { API_VERSION } from '../src/api/group.ts';
import { AGENT_PROFILES, GOVERNANCE_POLICIES, TOOLS } from '../src/controller/resources.ts';
import { SHIPPED_TOOLS } from '../src/tool-catalogue/default-catalogue.ts';
import type { ControlPlane } from '../dev/cluster/index.ts';
import { serviceAccountUsername } from '../dev/cluster/index.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../src/governance/defaults.ts';
import { sleep } from '../src/runtime/backoff.ts';
import { isNotFound, kubeRequest } from '../src/runtime/kube-http.ts';
import { resourcePath } from '../src/runtime/resource.ts';
import { BENCH_AGENT } from './mix.ts';

/** The API's maximum; the shipped default is 30/min per submitter. */
export const BENCH_RATE_LIMIT_PER_MINUTE = 10000;
export const CONTROLLER_NAMESPACE = 'm87-system';
export const POLICY_NAME = 'default';
/** Token lifetime for the agents: longer than any bench run. */
const TOKEN_SECONDS = 6 * 3600;

export function benchPolicySpec(): GovernancePolicySpec {
  return { ...structuredClone(DEFAULT_POLICY_SPEC), rateLimit: { proposalsPerMinute: BENCH_RATE_LIMIT_PER_MINUTE } };
}

/** The shipped profiles; `casey` also lists the bench submitters (usernames) as subjects. */
export function benchProfiles(submitters: readonly string[]): Record<string, AgentProfileSpec> {
  const out: Record<string, AgentProfileSpec> = {};
  for (const [name, spec] of Object.entries(DEFAULT_AGENT_PROFILES)) {
    out[name] = name === BENCH_AGENT ? { ...structuredClone(spec), subjects: [...spec.subjects, ...submitters] } : structuredClone(spec);
  }
  return out;
}

export function submitterNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `agent-${i}`);
}

/** Usernames of every bench submitter in every phase namespace (the `casey` profile lists them all). */
export function submitterUsernames(namespaces: readonly string[], count: number): string[] {
  return namespaces.flatMap((ns) => submitterNames(count).map((sa) => serviceAccountUsername(ns, sa)));
}

async function post(kc: KubeConfig, path: string, body: unknown): Promise<void> {
  await kubeRequest(kc, { method: 'POST', path, body });
}

/** CRDs, controller namespace, the shipped Tools (the catalogue the engine decides against, as the chart installs it), policy and profiles. */
export async function setupCluster(admin: KubeConfig, allSubmitters: readonly string[]): Promise<void> {
  await installCrds(admin);
  for (const [name, spec] of Object.entries(SHIPPED_TOOLS)) {
    await post(admin, resourcePath(TOOLS, {}), { apiVersion: API_VERSION, kind: 'Tool', metadata: { name }, spec });
  }
  await post(admin, '/api/v1/namespaces', { metadata: { name: CONTROLLER_NAMESPACE } });
  await post(admin, resourcePath(GOVERNANCE_POLICIES, {}), {
    apiVersion: API_VERSION,
    kind: 'GovernancePolicy',
    metadata: { name: POLICY_NAME },
    spec: benchPolicySpec(),
  });
  for (const [name, spec] of Object.entries(benchProfiles(allSubmitters))) {
    await post(admin, resourcePath(AGENT_PROFILES, {}), { apiVersion: API_VERSION, kind: 'AgentProfile', metadata: { name }, spec });
  }
}

export interface Submitter {
  username: string;
  token: string;
}

async function waitForDefaultServiceAccount(admin: KubeConfig, namespace: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    try {
      await kubeRequest(admin, { method: 'GET', path: `/api/v1/namespaces/${namespace}/serviceaccounts/default` });
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (performance.now() > deadline) throw new Error(`namespace ${namespace}: no default ServiceAccount after 60 s (is kube-controller-manager running?)`);
    await sleep(100);
  }
}

/**
 * A namespace for one phase: enforces Pod Security "restricted" (the controller starts job Pods only
 * there), lets `count` agent ServiceAccounts create Proposals, and returns their tokens.
 */
export async function setupPhaseNamespace(plane: ControlPlane, admin: KubeConfig, namespace: string, count: number): Promise<Submitter[]> {
  await post(admin, '/api/v1/namespaces', {
    metadata: {
      name: namespace,
      labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
    },
  });
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}`;
  await post(admin, `${rbac}/roles`, {
    metadata: { name: 'bench-agent' },
    rules: [
      { apiGroups: ['governance.m87.io'], resources: ['proposals'], verbs: ['create', 'get', 'list', 'watch'] },
      { apiGroups: ['governance.m87.io'], resources: ['decisions', 'jobs'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  const names = submitterNames(count);
  await post(admin, `${rbac}/rolebindings`, {
    metadata: { name: 'bench-agents' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'bench-agent' },
    subjects: names.map((name) => ({ kind: 'ServiceAccount', name, namespace })),
  });
  await waitForDefaultServiceAccount(admin, namespace);
  const out: Submitter[] = [];
  for (const name of names) {
    const kc = await plane.serviceAccountKubeConfig(namespace, name, { expirationSeconds: TOKEN_SECONDS });
    const token = kc.getCurrentUser()?.token;
    if (token === undefined) throw new Error(`ServiceAccount ${namespace}/${name}: no token in its kubeconfig`);
    out.push({ username: serviceAccountUsername(namespace, name), token });
  }
  return out;
}
