// Shared set-up for the controller's integration tests on the real control plane: the CRDs, a policy and
// agent profiles (from src/governance/defaults.ts, under names unique to the test file, since cluster-scoped
// objects are shared by every file of the run), a controller namespace, a job namespace that enforces Pod
// Security "restricted", agents as real ServiceAccounts with RBAC to propose, and approvers alice and bob.
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll } from 'vitest';
import { installCrds } from '../../../dev/codegen/install.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import type { GovernancePolicySpec } from '../../../src/api/governance-policy.ts';
import { startController, type RunningController, type StartControllerOptions } from '../../../src/controller/start.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { isNotFound, kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath, type KubeObject, type ResourceType } from '../../../src/runtime/resource.ts';
import { AGENT_PROFILES, APPROVALS, DECISIONS, GOVERNANCE_POLICIES, JOBS, PROPOSALS } from '../../../src/controller/resources.ts';
import { clusterKubeConfig, serviceAccountKubeConfig, testNamespace, waitFor } from '../../support/kube.ts';
import { installTestTools } from '../../support/tools.ts';

export const admin = clusterKubeConfig('admin');
export const RUNNER_IMAGE = 'ghcr.io/m87/m87:test';

export interface Env {
  suffix: string;
  controllerNamespace: string;
  jobNamespace: string;
  policyName: string;
  /** AgentProfile names by role (casey, jordan), unique to this file. */
  agents: { casey: string; jordan: string };
  /** Usernames of the agent ServiceAccounts. */
  users: { casey: string; jordan: string };
  kube: { casey: KubeConfig; jordan: KubeConfig; alice: KubeConfig; bob: KubeConfig };
  policySpec: GovernancePolicySpec;
}

async function post(kc: KubeConfig, resource: ResourceType, body: KubeObject, namespace?: string): Promise<KubeObject> {
  return kubeRequest<KubeObject>(kc, { method: 'POST', path: resourcePath(resource, { namespace }), body });
}

export async function get(resource: ResourceType, namespace: string | undefined, name: string, kc: KubeConfig = admin): Promise<KubeObject | undefined> {
  try {
    return await kubeRequest<KubeObject>(kc, { method: 'GET', path: resourcePath(resource, { namespace, name }) });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function list(resource: ResourceType, namespace: string): Promise<KubeObject[]> {
  const r = await kubeRequest<{ items: KubeObject[] }>(admin, { method: 'GET', path: resourcePath(resource, { namespace }) });
  return r.items;
}

/** Creates the namespaces, RBAC, profiles and (unless `withPolicy: false`) the policy. Cleans up afterAll. */
export async function setupEnv(prefix: string, opts: { withPolicy?: boolean } = {}): Promise<Env> {
  await installCrds(admin);
  await installTestTools(admin);
  const suffix = randomBytes(3).toString('hex');
  const controllerNamespace = await testNamespace(`${prefix}-ctl`);
  const jobNamespace = await testNamespace(`${prefix}-jobs`);
  await kubeRequest(admin, {
    method: 'PATCH',
    path: `/api/v1/namespaces/${jobNamespace}`,
    contentType: 'application/merge-patch+json',
    body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } } },
  });
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${jobNamespace}`;
  await kubeRequest(admin, {
    method: 'POST',
    path: `${rbac}/roles`,
    body: {
      metadata: { name: 'ctrl-test-agent' },
      rules: [
        { apiGroups: ['governance.m87.io'], resources: ['proposals', 'approvals'], verbs: ['create', 'get', 'list', 'watch'] },
        { apiGroups: ['governance.m87.io'], resources: ['decisions', 'jobs'], verbs: ['get', 'list', 'watch'] },
      ],
    },
  });
  await kubeRequest(admin, {
    method: 'POST',
    path: `${rbac}/roles`,
    body: {
      metadata: { name: 'ctrl-test-approver' },
      rules: [
        { apiGroups: ['governance.m87.io'], resources: ['approvals'], verbs: ['create', 'get', 'list', 'watch'] },
        { apiGroups: ['governance.m87.io'], resources: ['proposals', 'decisions', 'jobs'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['governance.m87.io'], resources: ['proposals'], verbs: ['approve'] },
      ],
    },
  });
  const roleRef = (name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name });
  await kubeRequest(admin, {
    method: 'POST',
    path: `${rbac}/rolebindings`,
    body: {
      metadata: { name: 'ctrl-test-agents' },
      roleRef: roleRef('ctrl-test-agent'),
      subjects: ['casey', 'jordan'].map((name) => ({ kind: 'ServiceAccount', name, namespace: jobNamespace })),
    },
  });
  await kubeRequest(admin, {
    method: 'POST',
    path: `${rbac}/rolebindings`,
    body: {
      metadata: { name: 'ctrl-test-approvers' },
      roleRef: roleRef('ctrl-test-approver'),
      subjects: ['alice', 'bob'].map((name) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name })),
    },
  });

  const users = { casey: `system:serviceaccount:${jobNamespace}:casey`, jordan: `system:serviceaccount:${jobNamespace}:jordan` };
  const agents = { casey: `casey-${suffix}`, jordan: `jordan-${suffix}` };
  for (const role of ['casey', 'jordan'] as const) {
    const base = DEFAULT_AGENT_PROFILES[role]!;
    await post(admin, AGENT_PROFILES, {
      apiVersion: API_VERSION,
      kind: 'AgentProfile',
      metadata: { name: agents[role] },
      spec: { ...base, subjects: [users[role]] },
    });
  }
  const policyName = `ctrl-${suffix}`;
  const policySpec: GovernancePolicySpec = {
    ...structuredClone(DEFAULT_POLICY_SPEC),
    approvals: { ...DEFAULT_POLICY_SPEC.approvals, challengeSecretRef: { namespace: controllerNamespace, name: 'm87-challenge-secret', key: 'secret' } },
  };
  afterAll(async () => {
    // Remove what this file proposed before its namespace goes (GC removes Decisions, Jobs and Pods), so the
    // next file's controller, which sees every namespace, does not find leftovers in a terminating one.
    for (const resource of [APPROVALS, PROPOSALS]) {
      await kubeRequest(admin, { method: 'DELETE', path: resourcePath(resource, { namespace: jobNamespace }) }).catch(() => undefined);
    }
    await waitFor(async () => (await list(PROPOSALS, jobNamespace)).length === 0, { what: 'the proposals to be deleted' }).catch(() => undefined);
    for (const [resource, name] of [
      [GOVERNANCE_POLICIES, policyName],
      [AGENT_PROFILES, agents.casey],
      [AGENT_PROFILES, agents.jordan],
    ] as const) {
      await kubeRequest(admin, { method: 'DELETE', path: resourcePath(resource, { name }) }).catch(() => undefined);
    }
    // Pods bound to no kubelet would keep the namespace terminating; remove them at once.
    const pods = await kubeRequest<{ items: KubeObject[] }>(admin, { method: 'GET', path: `/api/v1/namespaces/${jobNamespace}/pods` }).catch(() => ({ items: [] }));
    for (const pod of pods.items) {
      await kubeRequest(admin, {
        method: 'DELETE',
        path: `/api/v1/namespaces/${jobNamespace}/pods/${pod.metadata.name ?? ''}`,
        body: { gracePeriodSeconds: 0 },
      }).catch(() => undefined);
    }
  });
  const env: Env = {
    suffix,
    controllerNamespace,
    jobNamespace,
    policyName,
    agents,
    users,
    policySpec,
    kube: {
      casey: await serviceAccountKubeConfig(jobNamespace, 'casey'),
      jordan: await serviceAccountKubeConfig(jobNamespace, 'jordan'),
      alice: clusterKubeConfig('alice'),
      bob: clusterKubeConfig('bob'),
    },
  };
  if (opts.withPolicy ?? true) await createPolicy(env);
  return env;
}

export async function createPolicy(env: Env, spec: GovernancePolicySpec = env.policySpec): Promise<void> {
  await post(admin, GOVERNANCE_POLICIES, { apiVersion: API_VERSION, kind: 'GovernancePolicy', metadata: { name: env.policyName }, spec });
}

/** Starts an in-process controller for this environment (stopped afterAll). */
export async function startTestController(env: Env, opts: Partial<StartControllerOptions> = {}): Promise<RunningController> {
  const controller = await startController({
    kubeConfig: admin,
    config: { namespace: env.controllerNamespace, policyName: env.policyName, runnerImage: RUNNER_IMAGE, ...(opts.config ?? {}) },
    leaderElection: { leaseName: `m87-${env.suffix}`, leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 },
    http: { host: '127.0.0.1', port: 0 },
    processMetrics: false,
    ...opts,
  });
  afterAll(async () => {
    await controller.stop();
  });
  return controller;
}

/** A Proposal spec the default policy allows for Casey: write one file, with evidence and a rollback. */
export function caseySpec(env: Env, overrides: Partial<ProposalSpecInput> = {}): ProposalSpecInput {
  return {
    agent: env.agents.casey,
    submittedBy: env.users.casey,
    summary: 'Write the release notes',
    intent: { id: 'notes', goal: 'Write the release notes', mode: 'build' },
    effects: ['WRITE_PATCH'],
    steps: [{ tool: 'write-file', args: { path: 'NOTES.md', content: 'v1' } }],
    artifacts: [],
    truthAccount: { observations: ['NOTES.md does not exist yet'], claims: [{ text: 'notes are missing', confidence: 0.9 }] },
    riskScore: 0.2,
    reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'delete NOTES.md' }, executionMode: 'commit', cleanupCost: 'LOW' },
    ...overrides,
  };
}

/** Jordan reads the repository and sends a notification: the proposal completes repo_read_then_notify. */
export function jordanNotifySpec(env: Env): ProposalSpecInput {
  return {
    agent: env.agents.jordan,
    submittedBy: env.users.jordan,
    summary: 'Tell the team the build is green',
    intent: { id: 'notify', goal: 'Notify the team', mode: 'report' },
    effects: ['READ_REPO', 'SEND_NOTIFICATION'],
    steps: [{ tool: 'notify', args: { url: 'https://hooks.example.com/build', message: 'green' } }],
    artifacts: [],
    truthAccount: { observations: ['the build passed'], claims: [] },
    riskScore: 0.2,
    reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'send a correction' }, executionMode: 'commit', cleanupCost: 'LOW' },
  };
}

export async function propose(env: Env, as: 'casey' | 'jordan', name: string, spec: ProposalSpecInput): Promise<KubeObject> {
  return post(env.kube[as], PROPOSALS, { apiVersion: API_VERSION, kind: 'Proposal', metadata: { name, namespace: env.jobNamespace }, spec: spec }, env.jobNamespace);
}

export async function approve(
  env: Env,
  as: 'alice' | 'bob' | 'casey' | 'jordan',
  name: string,
  proposal: KubeObject,
  overrides: Record<string, unknown> = {},
): Promise<KubeObject> {
  const approver = as === 'casey' || as === 'jordan' ? env.users[as] : as;
  const status = proposal.status as { proposalHash?: string } | undefined;
  return post(
    env.kube[as],
    APPROVALS,
    {
      apiVersion: API_VERSION,
      kind: 'Approval',
      metadata: { name, namespace: env.jobNamespace },
      spec: {
        proposalName: proposal.metadata.name,
        proposalUID: proposal.metadata.uid,
        proposalHash: status?.proposalHash,
        verdict: 'Approve',
        approver,
        ...overrides,
      },
    },
    env.jobNamespace,
  );
}

export function phaseOf(obj: KubeObject | undefined): string | undefined {
  return (obj?.status as { phase?: string } | undefined)?.phase;
}

/** Waits until the proposal reaches one of the phases and returns it. */
export function waitForPhase(env: Env, name: string, phases: string[], timeoutMs = 30_000): Promise<KubeObject> {
  return waitFor(
    async () => {
      const p = await get(PROPOSALS, env.jobNamespace, name);
      return p && phases.includes(phaseOf(p) ?? '') ? p : undefined;
    },
    { what: `proposal ${name} in phase ${phases.join('|')}`, timeoutMs },
  );
}

export function waitForApprovalState(env: Env, name: string, timeoutMs = 30_000): Promise<{ state: string; reason: string; message?: string }> {
  return waitFor(
    async () => {
      const a = await get(APPROVALS, env.jobNamespace, name);
      const s = a?.status as { state?: string; reason?: string; message?: string } | undefined;
      return s?.state !== undefined ? { state: s.state, reason: s.reason ?? '', message: s.message } : undefined;
    },
    { what: `approval ${name} to be evaluated`, timeoutMs },
  );
}

export { APPROVALS, DECISIONS, JOBS, PROPOSALS };
