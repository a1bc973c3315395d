// Garbage collection as in real clusters: kube-controller-manager runs with per-controller ServiceAccount
// credentials, so its garbage collector acts as system:serviceaccount:kube-system:generic-garbage-collector,
// the identity the chart's admission policies let delete job NetworkPolicies. Deleting a Proposal then
// removes its Decision, Job, NetworkPolicy and Pod with either cascade, and the same name can be proposed
// again (before, a foreground delete never finished and a background one leaked the NetworkPolicy, so the
// next job of that name failed with NetworkPolicyConflict).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { approvalObject, proposalHashOf, type KubeObjectJson } from '../../../dev/security/fixtures.ts';
import { objectPath } from '../../../dev/security/resources.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import { startController, type RunningController } from '../../../src/controller/index.ts';
import { jobNetworkPolicyName, jobPodName } from '../../../src/controller/names.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { clusterKubeConfig, serviceAccountKubeConfig, waitFor } from '../../support/kube.ts';
import { CONTROLLER_SA, installSecurity, waitForAccess } from '../security/install.ts';

const running: { controller?: RunningController } = {};
const logs: string[] = [];
const clusterObjects: { kind: string; name: string }[] = [];
const installed = await installSecurity('m87-gc', {
  agentUsers: ['alice'],
  beforeRemove: async () => {
    await running.controller?.stop();
    for (const { kind, name } of clusterObjects) {
      await kubeRequest(installed.admin, { method: 'DELETE', path: objectPath({ kind, metadata: { name } }) }).catch(() => undefined);
    }
  },
});
const { admin, controllerNamespace, jobNamespace, suffix } = installed;
const alice = clusterKubeConfig('alice');
const bob = clusterKubeConfig('bob');

async function createAs(kc: typeof admin, obj: KubeObjectJson): Promise<KubeObjectJson> {
  return kubeRequest<KubeObjectJson>(kc, { method: 'POST', path: objectPath(obj, { collection: true }), body: obj });
}

const profileName = `gc-human-${suffix}`;
const policyName = `gc-policy-${suffix}`;
const human = DEFAULT_AGENT_PROFILES.human;
if (human === undefined) throw new Error('DEFAULT_AGENT_PROFILES has no human profile');
await createAs(admin, { apiVersion: API_VERSION, kind: 'AgentProfile', metadata: { name: profileName }, spec: { ...human, subjects: ['alice'], allowedEffects: [...new Set([...human.allowedEffects, 'COMPUTE'])] } });
clusterObjects.push({ kind: 'AgentProfile', name: profileName });
await createAs(admin, {
  apiVersion: API_VERSION,
  kind: 'GovernancePolicy',
  metadata: { name: policyName },
  spec: {
    ...DEFAULT_POLICY_SPEC,
    approvals: { ...DEFAULT_POLICY_SPEC.approvals, challengeSecretRef: { ...DEFAULT_POLICY_SPEC.approvals.challengeSecretRef, namespace: controllerNamespace } },
  },
});
clusterObjects.push({ kind: 'GovernancePolicy', name: policyName });

const controllerKc = await serviceAccountKubeConfig(controllerNamespace, CONTROLLER_SA);
await waitForAccess(controllerKc, '/apis/governance.m87.io/v1alpha1/proposals', 'the controller');
await waitForAccess(alice, `/apis/governance.m87.io/v1alpha1/namespaces/${jobNamespace}/proposals`, 'alice as an agent');
running.controller = await startController({
  kubeConfig: controllerKc,
  config: { namespace: controllerNamespace, policyName },
  logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(line) }),
  http: false,
  processMetrics: false,
  leaderElection: { leaseName: `m87-gc-${suffix}`, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
});

function get(kind: string, name: string): Promise<KubeObjectJson | undefined> {
  return kubeRequest<KubeObjectJson>(admin, { method: 'GET', path: objectPath({ kind, metadata: { name, namespace: jobNamespace } }) }).catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 404) return undefined;
    throw error;
  });
}

/** What of a proposal's family exists, by kind (NetworkPolicy and Pod under their job-derived names). */
async function family(name: string): Promise<Record<string, boolean>> {
  const [proposal, decision, job, networkPolicy, pod] = await Promise.all([
    get('Proposal', name),
    get('Decision', name),
    get('Job', name),
    get('NetworkPolicy', jobNetworkPolicyName(name)),
    get('Pod', jobPodName(name)),
  ]);
  return { Proposal: proposal !== undefined, Decision: decision !== undefined, Job: job !== undefined, NetworkPolicy: networkPolicy !== undefined, Pod: pod !== undefined };
}

const ALL_PRESENT = { Proposal: true, Decision: true, Job: true, NetworkPolicy: true, Pod: true };
const ALL_GONE = { Proposal: false, Decision: false, Job: false, NetworkPolicy: false, Pod: false };

/** alice proposes a DEPLOY (REQUIRE_HUMAN), bob approves it; resolves once its Job, NetworkPolicy and Pod exist. */
async function runJob(name: string): Promise<void> {
  const example = parse(readFileSync(join(REPO_ROOT, 'examples', 'proposal-deploy.yaml'), 'utf8')) as KubeObjectJson;
  const proposal = await createAs(alice, {
    apiVersion: API_VERSION,
    kind: 'Proposal',
    metadata: { name, namespace: jobNamespace },
    spec: { ...(example.spec as object), agent: profileName, submittedBy: 'alice', effects: ['COMPUTE', 'DEPLOY'], steps: [{ tool: 'echo', args: { message: name } }], artifacts: [] },
  });
  const decision = await waitFor(() => get('Decision', name), { what: `the Decision for ${name}`, timeoutMs: 60_000 });
  expect((decision.spec as { outcome?: string }).outcome).toBe('REQUIRE_HUMAN');
  // Other files' proposals for alice may complete a toxic pair: then the approver answers the challenge.
  const prompt = (decision.spec as { challenge?: { prompt?: string } }).challenge?.prompt;
  const approvalName = `${name}-bob-${Date.now().toString(36)}`;
  await createAs(
    bob,
    approvalObject({
      namespace: jobNamespace,
      name: approvalName,
      proposal: { name, uid: String(proposal.metadata.uid), hash: proposalHashOf(proposal) },
      approver: 'bob',
      challengeResponse: prompt === undefined ? undefined : (/topology (\w+)/.exec(prompt)?.[1] ?? ''),
    }),
  );
  await waitFor(async () => Object.values(await family(name)).every(Boolean), { what: `the Job, NetworkPolicy and Pod of ${name}`, timeoutMs: 60_000 });
  expect(await family(name)).toEqual(ALL_PRESENT);
}

async function deleteProposal(name: string, propagationPolicy: 'Foreground' | 'Background'): Promise<void> {
  await kubeRequest(admin, {
    method: 'DELETE',
    path: objectPath({ kind: 'Proposal', metadata: { name, namespace: jobNamespace } }),
    body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy },
  });
}

async function expectFamilyGone(name: string): Promise<void> {
  let last: Record<string, boolean> = {};
  await waitFor(
    async () => {
      last = await family(name);
      return Object.values(last).every((present) => !present);
    },
    { what: `the Proposal ${name} and everything it owns to be deleted`, timeoutMs: 45_000 },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; still present: ${Object.keys(last).filter((k) => last[k] === true).join(', ')}`, { cause: error });
  });
  expect(last).toEqual(ALL_GONE);
}

describe('deleting a Proposal removes its Decision, Job, NetworkPolicy and Pod (kube-controller-manager\'s garbage collector)', () => {
  it.each(['Foreground', 'Background'] as const)('with %s cascade, and the same name can then run again', async (propagation) => {
    const name = `gc-${propagation.toLowerCase()}`;
    await runJob(name);
    await deleteProposal(name, propagation);
    await expectFamilyGone(name);
    // Nothing of the first run is left in the way: the second job of that name gets its own NetworkPolicy.
    await runJob(name);
    const refused = logs.filter((l) => l.includes('NetworkPolicyConflict'));
    expect(refused).toEqual([]);
    await deleteProposal(name, 'Background');
    await expectFamilyGone(name);
  });
});
