// The controller end to end on the real control plane (controller in-process, agents as real
// ServiceAccounts, approvers alice and bob): ALLOW → Decision → Job → NetworkPolicy → Pod → receipt →
// Succeeded; DENY mints nothing; REQUIRE_HUMAN waits for a valid Approval and refuses every invalid one
// with its reason; a Reject verdict ends the proposal; an expired decision takes no approvals.
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS, LABELS } from '../../../src/api/group.ts';
import { Decision, Job } from '../../../src/api/kinds.ts';
import type { Receipt } from '../../../src/api/receipt.ts';
import { NETWORK_POLICIES, PODS } from '../../../src/controller/resources.ts';
import { sha256Hex } from '../../../src/hash/canonical.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { verifyDeh } from '../../../src/integrity/signing.ts';
import { waitFor } from '../../support/kube.ts';
import { simulateRunnerExit as publishRunnerExit, succeededReceipt } from '../../support/runner-exit.ts';
import {
  admin,
  approve,
  caseySpec,
  DECISIONS,
  get,
  JOBS,
  jordanNotifySpec,
  list,
  phaseOf,
  propose,
  PROPOSALS,
  RUNNER_IMAGE,
  setupEnv,
  startTestController,
  waitForApprovalState,
  waitForPhase,
} from './harness.ts';

const env = await setupEnv('m87-life');
let clockOffsetMs = 0;
const controller = await startTestController(env, { clock: () => Date.now() + clockOffsetMs });

interface PodView extends KubeObject {
  spec: {
    automountServiceAccountToken?: boolean;
    enableServiceLinks?: boolean;
    restartPolicy?: string;
    activeDeadlineSeconds?: number;
    securityContext?: Record<string, unknown>;
    containers: { image: string; securityContext?: Record<string, unknown> }[];
  };
}
interface NetworkPolicyView extends KubeObject {
  spec: { podSelector: unknown; policyTypes: string[]; ingress?: unknown[]; egress?: unknown[] };
}

async function getDecision(name: string): Promise<Decision> {
  return Decision.parse(await get(DECISIONS, env.jobNamespace, name));
}

async function getJob(name: string): Promise<Job> {
  return Job.parse(await get(JOBS, env.jobNamespace, name));
}

async function waitForJob(name: string): Promise<Job> {
  await waitFor(() => get(JOBS, env.jobNamespace, name), { what: `job ${name}` });
  return getJob(name);
}

const rv = (o: KubeObject): bigint => BigInt(o.metadata.resourceVersion ?? '0');
const condition = (o: KubeObject | undefined, type: string) =>
  ((o?.status as { conditions?: { type: string; status: string; reason: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

async function simulateRunnerExit(pod: KubeObject, receipt: Receipt | string, exitCode = 0): Promise<void> {
  const where = { namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', image: RUNNER_IMAGE };
  await publishRunnerExit(admin, where, typeof receipt === 'string' ? receipt : JSON.stringify(receipt), exitCode);
}

function receiptFor(job: Job, overrides: Partial<Receipt> = {}): Receipt {
  return { ...succeededReceipt(job, { artifacts: [{ path: 'NOTES.md', sha256: sha256Hex('v1') }], runtimeMs: 900 }), ...overrides };
}

async function waitForPod(name: string): Promise<PodView> {
  return (await waitFor(() => get(PODS, env.jobNamespace, `m87-job-${name}`), { what: `job Pod of ${name}` })) as PodView;
}

describe('ALLOW', () => {
  it('creates Decision, Job, NetworkPolicy and Pod, in that order, with the pod contract', async () => {
    const proposal = await propose(env, 'casey', 'allow-1', caseySpec(env));
    const approved = await waitForPhase(env, 'allow-1', ['Approved', 'Running']);
    const decision = await getDecision('allow-1');
    expect(decision.spec.outcome).toBe('ALLOW');
    expect(decision.spec.proposalRef).toEqual({ name: 'allow-1', uid: proposal.metadata.uid });
    expect(decision.spec.submittedBy).toBe(env.users.casey);
    expect(decision.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Proposal', uid: proposal.metadata.uid, controller: true })]);
    expect(approved.status).toMatchObject({ outcome: 'ALLOW', proposalHash: decision.spec.proposalHash, decisionRef: { name: 'allow-1', uid: decision.metadata.uid } });
    expect(condition(approved, 'Decided')).toMatchObject({ status: 'True', reason: 'Allowed' });

    const job = await waitForJob('allow-1');
    expect(job.spec.envelopeHash).toBe(decision.spec.envelopeHash);
    expect(job.spec.envelope).toEqual(decision.spec.effectiveEnvelope);
    expect(job.spec.keyId).toBe(controller.publicKey.keyId);
    expect(verifyDeh(controller.publicKey.publicKeyPem, job.spec.envelopeHash, job.spec.signature)).toBe(true);

    const pod = await waitForPod('allow-1');
    const np = (await get(NETWORK_POLICIES, env.jobNamespace, 'm87-job-allow-1')) as NetworkPolicyView;
    expect(np).toBeDefined();
    // Order: Decision before Job before NetworkPolicy before Pod (etcd revisions are totally ordered).
    expect(Date.parse(String(decision.metadata.creationTimestamp))).toBeLessThanOrEqual(Date.parse(String(job.metadata.creationTimestamp)));
    expect(BigInt(decision.metadata.resourceVersion ?? '0') < BigInt(job.metadata.resourceVersion ?? '0')).toBe(true);
    expect(Date.parse(np.metadata.creationTimestamp!)).toBeLessThanOrEqual(Date.parse(pod.metadata.creationTimestamp!));
    expect(rv(np) < rv(pod)).toBe(true);

    expect(np.spec.podSelector).toEqual({ matchLabels: { [LABELS.job]: 'allow-1' } });
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress ?? []).toEqual([]);
    expect(np.spec.egress ?? []).toEqual([]);

    const a = pod.metadata.annotations ?? {};
    expect(a[ANNOTATIONS.envelopeHash]).toBe(job.spec.envelopeHash);
    expect(a[ANNOTATIONS.jobUID]).toBe(job.metadata.uid);
    expect(a[ANNOTATIONS.keyId]).toBe(controller.publicKey.keyId);
    // The Job's own signature, carried over: the Pod is not signed a second time.
    expect(a[ANNOTATIONS.signature]).toBe(job.spec.signature);
    expect(verifyDeh(controller.publicKey.publicKeyPem, job.spec.envelopeHash, a[ANNOTATIONS.signature]!)).toBe(true);
    expect(JSON.parse(a[ANNOTATIONS.envelope]!)).toEqual(job.spec.envelope);
    const spec = pod.spec;
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(spec.restartPolicy).toBe('Never');
    expect(spec.activeDeadlineSeconds).toBe(job.spec.envelope.autonomyBudget.maxRuntimeSeconds + 30);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(spec.containers[0]?.image).toBe(RUNNER_IMAGE);
    expect(pod.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Job', uid: job.metadata.uid, controller: true })]);

    // The public key is published where the Pod mounts it.
    const cm = await get({ group: '', version: 'v1', plural: 'configmaps', namespaced: true }, env.jobNamespace, 'm87-signing-public-key');
    expect((cm as { data?: Record<string, string> } | undefined)?.data?.['public.pem']).toBe(controller.publicKey.publicKeyPem);

    const jobStatus = await waitFor(async () => (await getJob('allow-1')).status, { what: 'job status' });
    expect(jobStatus).toMatchObject({ phase: 'Pending', podName: 'm87-job-allow-1', networkPolicyName: 'm87-job-allow-1' });
  });

  it('a terminated Pod with a valid receipt drives Job and Proposal to Succeeded', async () => {
    const job = await getJob('allow-1');
    const pod = await waitForPod('allow-1');
    await simulateRunnerExit(pod, receiptFor(job));
    const done = await waitForPhase(env, 'allow-1', ['Succeeded', 'Failed']);
    expect(phaseOf(done)).toBe('Succeeded');
    expect(condition(done, 'Executed')).toMatchObject({ status: 'True' });
    const finished = await get(JOBS, env.jobNamespace, 'allow-1');
    expect(finished?.status).toMatchObject({ phase: 'Succeeded', receipt: { jobUID: job.metadata.uid } });
    // Each condition says who proved it: the controller the envelope, the runner (its own account) the work.
    expect(condition(finished, 'EnvelopeVerified')).toMatchObject({ status: 'True', reason: 'VerifiedByController' });
    expect(condition(finished, 'Succeeded')).toMatchObject({ status: 'True', reason: 'ReportedByRunner' });
  });

  it('a receipt that leaves out an output its Tool declares fails the Job with a reason', async () => {
    // apply-patch declares the output `patch`: a Succeeded receipt must list outputs/0/patch.
    const patch = ['--- a/NOTES.md', '+++ b/NOTES.md', '@@ -1 +1 @@', '-v0', '+v1', ''].join('\n');
    await propose(env, 'casey', 'allow-2', caseySpec(env, { summary: 'Second write', steps: [{ tool: 'apply-patch', args: { patch } }] }));
    const pod = await waitForPod('allow-2');
    const job = await waitForJob('allow-2');
    await simulateRunnerExit(pod, receiptFor(job, { artifacts: [] }));
    const done = await waitForPhase(env, 'allow-2', ['Succeeded', 'Failed']);
    expect(phaseOf(done)).toBe('Failed');
    const failed = await get(JOBS, env.jobNamespace, 'allow-2');
    expect(failed?.status).toMatchObject({ phase: 'Failed', reason: 'NoArtifacts' });
    expect(condition(failed, 'Succeeded')).toMatchObject({ status: 'False', reason: 'NoArtifacts' });
  });
});

describe('exactly one Job', () => {
  it('a deleted Job is never minted again; the proposal fails with JobDeleted', async () => {
    await propose(env, 'casey', 'allow-3', caseySpec(env, { summary: 'Third write' }));
    await waitForPod('allow-3');
    await waitForPhase(env, 'allow-3', ['Approved', 'Running']);
    await kubeRequest(admin, { method: 'DELETE', path: `/apis/governance.m87.io/v1alpha1/namespaces/${env.jobNamespace}/jobs/allow-3` });
    const failed = await waitForPhase(env, 'allow-3', ['Failed']);
    expect(condition(failed, 'Executed')).toMatchObject({ status: 'False', reason: 'JobDeleted' });
    expect(await get(JOBS, env.jobNamespace, 'allow-3')).toBeUndefined();
  });
});

describe('DENY and NEED_MORE_EVIDENCE', () => {
  it('DENY records the findings and creates no Job', async () => {
    await propose(env, 'casey', 'deny-1', caseySpec(env, { effects: ['READ_SECRETS', 'WRITE_PATCH'] }));
    const denied = await waitForPhase(env, 'deny-1', ['Denied']);
    const decision = await getDecision('deny-1');
    expect(decision.spec.outcome).toBe('DENY');
    expect(decision.spec.reasons.map((r) => r.code)).toContain('READ_SECRETS_FORBIDDEN');
    expect(condition(denied, 'Decided')).toMatchObject({ status: 'True', reason: 'Denied' });
    expect(condition(denied, 'Approved')).toMatchObject({ status: 'False', reason: 'NotAllowed' });
    // Minting happens in the same reconcile that writes the phase: Denied means no Job will ever exist.
    expect(await get(JOBS, env.jobNamespace, 'deny-1')).toBeUndefined();
  });

  it('NEED_MORE_EVIDENCE creates no Job', async () => {
    await propose(env, 'casey', 'evidence-1', caseySpec(env, { truthAccount: { observations: [], claims: [] } }));
    await waitForPhase(env, 'evidence-1', ['NeedsEvidence']);
    expect(await get(JOBS, env.jobNamespace, 'evidence-1')).toBeUndefined();
  });
});

describe('REQUIRE_HUMAN', () => {
  it('rejects wrong hash, wrong UID and self-approval with their reasons, then mints on alice', async () => {
    await propose(env, 'casey', 'human-1', caseySpec(env, { riskScore: 0.9, summary: 'Risky write' }));
    const waiting = await waitForPhase(env, 'human-1', ['AwaitingApproval']);
    const decision = await getDecision('human-1');
    expect(decision.spec.outcome).toBe('REQUIRE_HUMAN');
    expect(decision.spec.envelopeHash).toMatch(/^[0-9a-f]{64}$/);

    await approve(env, 'alice', 'human-1-badhash', waiting, { proposalHash: 'f'.repeat(64) });
    await approve(env, 'bob', 'human-1-baduid', waiting, { proposalUID: '00000000-0000-0000-0000-000000000000' });
    await approve(env, 'casey', 'human-1-self', waiting);
    expect(await waitForApprovalState(env, 'human-1-badhash')).toMatchObject({ state: 'Rejected', reason: 'HashMismatch' });
    expect(await waitForApprovalState(env, 'human-1-baduid')).toMatchObject({ state: 'Rejected', reason: 'UIDMismatch' });
    expect(await waitForApprovalState(env, 'human-1-self')).toMatchObject({ state: 'Rejected', reason: 'SelfApproval' });
    expect(phaseOf(await get(PROPOSALS, env.jobNamespace, 'human-1'))).toBe('AwaitingApproval');
    expect(await get(JOBS, env.jobNamespace, 'human-1')).toBeUndefined();

    const good = await approve(env, 'alice', 'human-1-alice', waiting);
    expect(await waitForApprovalState(env, 'human-1-alice')).toMatchObject({ state: 'Accepted', reason: 'Accepted' });
    const approved = await waitForPhase(env, 'human-1', ['Approved', 'Running']);
    expect(condition(approved, 'Approved')).toMatchObject({ status: 'True', reason: 'Approved' });
    const job = await waitForJob('human-1');
    expect(job.spec.approvalRefs).toEqual([{ name: 'human-1-alice', uid: good.metadata.uid }]);
    expect(job.spec.envelopeHash).toBe(decision.spec.envelopeHash);
    expect(job.spec.envelope.humanApproved).toBe(true);
    await waitForPod('human-1');

    // Resolved: a later approval does not count.
    await approve(env, 'bob', 'human-1-late', waiting);
    expect(await waitForApprovalState(env, 'human-1-late')).toMatchObject({ state: 'Rejected', reason: 'AlreadyResolved' });
  });

  it('a wrong challenge answer is rejected; the right one mints', async () => {
    await propose(env, 'jordan', 'challenge-1', jordanNotifySpec(env));
    const waiting = await waitForPhase(env, 'challenge-1', ['AwaitingApproval']);
    const decision = await getDecision('challenge-1');
    expect(decision.spec.challenge?.prompt).toContain('repo_read_then_notify');
    await approve(env, 'alice', 'challenge-1-wrong', waiting, { challengeResponse: 'yes' });
    expect(await waitForApprovalState(env, 'challenge-1-wrong')).toMatchObject({ state: 'Rejected', reason: 'ChallengeFailed' });
    expect(await get(JOBS, env.jobNamespace, 'challenge-1')).toBeUndefined();
    await approve(env, 'bob', 'challenge-1-right', waiting, { challengeResponse: 'repo_read_then_notify' });
    expect(await waitForApprovalState(env, 'challenge-1-right')).toMatchObject({ state: 'Accepted' });
    await waitFor(() => get(JOBS, env.jobNamespace, 'challenge-1'), { what: 'job challenge-1' });
  });

  it('a Reject verdict ends the proposal; nothing is minted', async () => {
    await propose(env, 'casey', 'reject-1', caseySpec(env, { riskScore: 0.95, summary: 'Another risky write' }));
    const waiting = await waitForPhase(env, 'reject-1', ['AwaitingApproval']);
    await approve(env, 'bob', 'reject-1-bob', waiting, { verdict: 'Reject', comment: 'too risky' });
    const rejected = await waitForPhase(env, 'reject-1', ['Rejected']);
    expect(condition(rejected, 'Approved')).toMatchObject({ status: 'False', reason: 'Rejected' });
    await approve(env, 'alice', 'reject-1-alice', waiting);
    expect(await waitForApprovalState(env, 'reject-1-alice')).toMatchObject({ state: 'Rejected', reason: 'AlreadyResolved' });
    expect(await get(JOBS, env.jobNamespace, 'reject-1')).toBeUndefined();
  });

  it("an approval given 11 minutes later mints from the server's Decision", async () => {
    // The cache keeps Decisions without their envelope (compact.ts) and the session ledger holds no whole
    // REQUIRE_HUMAN Decision: minting an approved one reads the Decision from the API server.
    await propose(env, 'casey', 'human-later', caseySpec(env, { riskScore: 0.9, summary: 'Risky write, approved later' }));
    const waiting = await waitForPhase(env, 'human-later', ['AwaitingApproval']);
    const decision = await getDecision('human-later');
    clockOffsetMs = 11 * 60_000;
    try {
      await approve(env, 'alice', 'human-later-alice', waiting);
      expect(await waitForApprovalState(env, 'human-later-alice')).toMatchObject({ state: 'Accepted' });
      const job = await waitForJob('human-later');
      expect(job.spec.envelopeHash).toBe(decision.spec.envelopeHash);
      expect(job.spec.envelope).toEqual(decision.spec.effectiveEnvelope);
      expect(phaseOf(await waitForPhase(env, 'human-later', ['Approved', 'Running']))).toMatch(/Approved|Running/);
    } finally {
      clockOffsetMs = 0;
    }
  });
});

describe('observability', () => {
  it('serves the m87_ metric families with their label sets', async () => {
    const { host, port } = controller.httpAddress!;
    const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
    for (const family of [
      'm87_proposals_total{outcome="ALLOW"}',
      'm87_proposals_total{outcome="DENY"}',
      'm87_decisions_total{outcome="DENY",rule="secrets",code="READ_SECRETS_FORBIDDEN"}',
      'm87_decision_duration_seconds_bucket',
      'm87_approvals_total{state="Rejected",reason="HashMismatch"}',
      'm87_approval_wait_seconds_bucket',
      'm87_jobs_total{result="Succeeded"}',
      'm87_envelope_verifications_total{result="verified"}',
      'm87_topology_hits_total{topology="repo_read_then_notify"}',
      'm87_tripwire_hits_total{flag="subprocess"}',
      'm87_leader 1',
      'm87_policy_valid 1',
      'm87_workqueue_depth{name="decisions"}',
      'm87_reconcile_total{controller="jobs",result="success"}',
      'm87_informer_last_event_age_seconds{resource="proposals.governance.m87.io"}',
    ]) {
      expect(text).toContain(family);
    }
    expect(text).toMatch(/m87_proposals_total\{outcome="ALLOW"\} [1-9]/);
    expect(text).toMatch(/m87_topology_hits_total\{topology="repo_read_then_notify"\} [1-9]/);
    expect(text).toMatch(/m87_jobs_total\{result="Succeeded"\} [1-9]/);
    const ready = await fetch(`http://${host}:${port}/readyz`);
    expect(ready.status).toBe(200);
    // Events are for what went wrong (a rejected approval); routine progress (decisions, success) has none.
    const events = await kubeRequest<{ items: { reason: string; type: string }[] }>(admin, {
      method: 'GET',
      path: `/api/v1/namespaces/${env.jobNamespace}/events`,
    });
    const reasons = events.items.map((e) => e.reason);
    expect(reasons).toContain('ApprovalRejectedHashMismatch');
    for (const routine of ['DecidedAllow', 'DecidedDeny', 'Succeeded', 'Approved', 'Running']) expect(reasons).not.toContain(routine);
  });
});

describe('expiry', () => {
  it('an expired decision moves the proposal to Expired and later approvals are rejected Expired', async () => {
    await propose(env, 'casey', 'expire-1', caseySpec(env, { riskScore: 0.99, summary: 'Expiring write' }));
    const waiting = await waitForPhase(env, 'expire-1', ['AwaitingApproval']);
    // Jump the controller's clock past the approval window (policy: 3600 s).
    clockOffsetMs = (env.policySpec.approvals.expirySeconds + 60) * 1000;
    await approve(env, 'alice', 'expire-1-alice', waiting);
    expect(await waitForApprovalState(env, 'expire-1-alice')).toMatchObject({ state: 'Rejected', reason: 'Expired' });
    const expired = await waitForPhase(env, 'expire-1', ['Expired']);
    expect(condition(expired, 'Approved')).toMatchObject({ status: 'False', reason: 'Expired' });
    expect(await get(JOBS, env.jobNamespace, 'expire-1')).toBeUndefined();
  });

  it('nothing was decided twice', async () => {
    const proposals = await list(PROPOSALS, env.jobNamespace);
    const decisions = await list(DECISIONS, env.jobNamespace);
    expect(decisions.map((d) => d.metadata.name).sort()).toEqual(proposals.map((p) => p.metadata.name).sort());
  });
});
