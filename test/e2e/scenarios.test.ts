// The demo's scenarios end to end (the code `npm run demo` runs), asserted in detail: Decisions, Approvals,
// Job status and conditions, receipts, the job Pods, Events, the egress target, and the controller's metrics
// (scraped from its /metrics before and after).
import { beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../src/api/group.ts';
import { sha256Hex } from '../../src/hash/canonical.ts';
import { approvalName } from '../../src/cli/approve-command.ts';
import type { MetricsSnapshot } from '../../dev/demo/metrics.ts';
import { condition, eventsFor, getJob, getPod } from '../../dev/demo/observe.ts';
import { REPORT_PATH, runScenarios, type ProposalRun, type ScenarioResult } from '../../dev/demo/scenarios.ts';
import { kubeRequest } from '../../src/runtime/kube-http.ts';
import { fetchJobOutputs, M87Client } from '../../src/client/index.ts';
import { e2eStack } from './stack.ts';

const { stack, ctx, metrics } = await e2eStack('scenarios');
const ns = stack.jobNamespace;
let before: MetricsSnapshot;
let after: MetricsSnapshot;
const results = new Map<string, ScenarioResult>();

beforeAll(async () => {
  before = await metrics();
  for (const r of await runScenarios(ctx)) results.set(r.id, r);
  after = await metrics();
}, 240_000);

function scenario(id: string): ScenarioResult {
  const r = results.get(id);
  if (r === undefined) throw new Error(`scenario ${id} did not run`);
  return r;
}

function only(id: string, index = 0): ProposalRun {
  const run = scenario(id).runs[index];
  if (run === undefined) throw new Error(`scenario ${id} has no run ${index}`);
  return run;
}

/** Receipt checks every runner-verified job must pass: it names this Job incarnation and its DEH. */
function expectReceiptOfJob(run: ProposalRun): void {
  const job = run.job!;
  const receipt = job.status?.receipt;
  expect(receipt).toMatchObject({
    v: 1,
    jobUID: job.metadata.uid,
    deh: { claimed: job.spec.envelopeHash, recomputed: job.spec.envelopeHash, verified: true },
  });
  expect(receipt!.steps.map((s) => s.tool)).toEqual(job.spec.envelope.steps.map((s) => s.tool));
  expect(receipt!.steps.every((s) => /^[0-9a-f]{64}$/.test(s.outputHash))).toBe(true);
  expect(Buffer.byteLength(JSON.stringify(receipt))).toBeLessThanOrEqual(4096);
}

describe('demo scenarios', () => {
  it('every scenario ends as the demo expects', () => {
    expect([...results.values()].flatMap((r) => r.problems)).toEqual([]);
  });

  it('(a) an allowed test run succeeds with a verified receipt and the artifact digest', async () => {
    const run = only('a');
    expect(run.decision.spec.outcome).toBe('ALLOW');
    const job = run.job!;
    expect(job.status).toMatchObject({ phase: 'Succeeded', podName: `m87-job-${run.name}` });
    // What the controller proved (the Pod carries the signed envelope), and what the runner reports.
    expect(condition(job, 'EnvelopeVerified')).toMatchObject({ status: 'True', reason: 'VerifiedByController' });
    expect(condition(job, 'Succeeded')).toMatchObject({ status: 'True', reason: 'ReportedByRunner' });
    expectReceiptOfJob(run);
    const receipt = job.status!.receipt!;
    // git-checkout fetched through the egress gate (counted), run-tests ran pytest in its own image.
    expect(receipt).toMatchObject({ status: 'Succeeded', reasonCode: '', usage: { steps: 2, toolCalls: 2 } });
    expect(receipt.usage.externalIO).toBeGreaterThan(0);
    expect(receipt.steps.map((s) => [s.tool, s.exitCode])).toEqual([['git-checkout', 0], ['run-tests', 0]]);
    // The test report is a declared output: its digest in the receipt, its bytes retrievable and checked against it.
    const { outputs } = await fetchJobOutputs(new M87Client(stack.admin), { namespace: ns, proposal: run.name });
    const report = outputs.find((o) => o.path === REPORT_PATH);
    expect(report).toBeDefined();
    expect(receipt.artifacts).toContainEqual({ path: REPORT_PATH, sha256: sha256Hex(report!.bytes) });
    expect(report!.bytes.toString('utf8')).toMatch(/<testsuite [^>]*failures="0"/);
    expect(job.spec.envelopeHash).toBe(run.decision.spec.envelopeHash);
    // The Pod the runner ran in carries the signed envelope; the runner timed its verification.
    const pod = await getPod(stack.admin, ns, job.status!.podName!);
    expect(pod?.metadata.annotations?.[ANNOTATIONS.envelopeHash]).toBe(job.spec.envelopeHash);
    expect(pod?.metadata.annotations?.[ANNOTATIONS.jobUID]).toBe(job.metadata.uid);
    expect(pod?.status?.phase).toBe('Succeeded');
    expect(run.runner).toMatchObject({ status: 'Succeeded', reasonCode: '' });
    expect(run.runner?.verifyMs).toBeGreaterThan(0);
    // Routine progress (an ALLOW, a success) is in the statuses, not in Events (issue 16: requests per decision).
    const proposalEvents = await eventsFor(stack.admin, ns, 'Proposal', run.name);
    const jobEvents = await eventsFor(stack.admin, ns, 'Job', run.name);
    expect([...proposalEvents, ...jobEvents].filter((e) => e.type === 'Normal')).toEqual([]);
  });

  it('(b) READ_SECRETS is denied and nothing is minted', async () => {
    const run = only('b');
    expect(run.decision.spec.outcome).toBe('DENY');
    expect(run.decision.spec.reasons.map((r) => r.code)).toContain('READ_SECRETS_FORBIDDEN');
    expect(run.proposal.status?.phase).toBe('Denied');
    expect(await getJob(stack.admin, ns, run.name)).toBeUndefined();
    expect(await getPod(stack.admin, ns, `m87-job-${run.name}`)).toBeUndefined();
    // The reasons are in the proposal's status (no Event per decision).
    expect(run.proposal.status?.message).toContain('READ_SECRETS_FORBIDDEN');
    expect(run.proposal.status?.conditions?.find((c) => c.type === 'Decided')).toMatchObject({ status: 'True', reason: 'Denied' });
  });

  it('(c) a DEPLOY waits for a human; alice approves with `m87 approve`; the approved envelope runs', async () => {
    const run = only('c');
    expect(run.decision.spec.outcome).toBe('REQUIRE_HUMAN');
    expect(run.decision.spec.reasons.map((r) => r.code)).toContain('DEPLOY_REQUIRES_HUMAN');
    expect(run.approval?.cli.code).toBe(0);
    expect(run.approval?.cli.stdout).toContain(`(Approve ${ns}/${run.name} as alice)`);
    const approval = await kubeRequest<{ spec: Record<string, unknown>; status?: { state?: string } }>(stack.admin, {
      method: 'GET',
      path: `/apis/governance.m87.io/v1alpha1/namespaces/${ns}/approvals/${approvalName(run.name, 'alice')}`,
    });
    expect(approval.spec).toMatchObject({ proposalName: run.name, proposalUID: run.proposal.metadata.uid, verdict: 'Approve', approver: 'alice' });
    expect(approval.status?.state).toBe('Accepted');
    const job = run.job!;
    expect(job.status?.phase).toBe('Succeeded');
    expect((job.spec.envelope as unknown as { humanApproved: boolean }).humanApproved).toBe(true);
    expect(job.spec.envelopeHash).toBe(run.decision.spec.envelopeHash);
    expectReceiptOfJob(run);
    const events = await eventsFor(stack.admin, ns, 'Approval', approvalName(run.name, 'alice'), 'ApprovalAccepted');
    expect(events.some((e) => e.reason === 'ApprovalAccepted')).toBe(true);
  });

  it('(d) READ_REPO then NETWORK_CALL needs alice and the challenge answer; the call goes through the egress gate', async () => {
    const read = only('d', 0);
    const call = only('d', 1);
    expect(read.decision.spec.outcome).toBe('ALLOW');
    expect(read.job?.status?.phase).toBe('Succeeded');
    expect(call.decision.spec.outcome).toBe('REQUIRE_HUMAN');
    const toxic = call.decision.spec.reasons.filter((r) => r.code === 'TOXIC_TOPOLOGY');
    expect(toxic.some((r) => r.message.includes('repo_read_then_network'))).toBe(true);
    expect(call.decision.spec.challenge?.prompt).toContain(call.approval?.challengeResponse);
    expect(call.approval?.cli.code).toBe(0);
    const job = call.job!;
    expectReceiptOfJob(call);
    if (stack.network === 'veth') {
      expect(job.status?.phase).toBe('Succeeded');
      expect(job.status?.receipt?.usage.externalIO).toBe(1);
      expect(call.runner?.egress).toMatchObject({ allowed: 1, refused: 0 });
      const pod = await getPod(stack.admin, ns, job.status!.podName!);
      const podIP = pod?.status?.podIP;
      const got = stack.egress!.requests.filter((r) => r.path === '/status');
      expect(got).toHaveLength(1);
      // From the job Pod's own address, as forwarded by the runner's egress gate (its lease token stays behind).
      // The shipped http-get Tool is curl in its own image; the gate forwards its request as sent.
      expect(got[0]).toMatchObject({ method: 'GET', remoteAddress: podIP });
      expect(got[0]?.headers['user-agent']).toMatch(/^curl\//);
      expect(got[0]?.headers['proxy-authorization']).toBeUndefined();
    } else {
      expect(job.status?.reason).toBe('EGRESS_UPSTREAM_FAILED');
    }
  });

  it('(e) a tampered annotation is refused by the runner and the Job records EnvelopeVerified=False', async () => {
    const run = only('e');
    const job = run.job!;
    expect(job.status?.phase).toBe('Failed');
    expect(job.status?.receipt).toMatchObject({ status: 'Refused', reasonCode: 'DEH_MISMATCH', steps: [], deh: { verified: false, claimed: job.spec.envelopeHash } });
    expect(job.status!.receipt!.deh.recomputed).not.toBe(job.spec.envelopeHash);
    expect(condition(job, 'EnvelopeVerified')).toMatchObject({ status: 'False', reason: 'DEH_MISMATCH' });
    expect(condition(job, 'Succeeded')).toMatchObject({ status: 'False' });
    // The API object was never changed: the forgery happened on the node.
    const pod = await getPod(stack.admin, ns, job.status!.podName!);
    expect(JSON.parse(pod?.metadata.annotations?.[ANNOTATIONS.envelope] ?? '{}')).toEqual(job.spec.envelope);
    const events = await eventsFor(stack.admin, ns, 'Job', run.name, 'Failed');
    expect(events.find((e) => e.reason === 'Failed')?.type).toBe('Warning');
    expect(run.proposal.status?.phase).toBe('Failed');
  });

  it('the controller counted every decision, approval, job and verification', () => {
    const d = (name: string, labels: Record<string, string>): number => after.delta(before, name, labels);
    // (f) runs where the demo serves its repository (veth mode): one more ALLOW and Succeeded job, two DENY.
    const f = stack.repository !== undefined ? 1 : 0;
    expect(d('m87_proposals_total', { outcome: 'ALLOW' })).toBe(3 + f);
    expect(d('m87_proposals_total', { outcome: 'DENY' })).toBe(1 + 2 * f);
    expect(d('m87_proposals_total', { outcome: 'REQUIRE_HUMAN' })).toBe(2);
    expect(d('m87_approvals_total', { state: 'Accepted' })).toBe(2);
    expect(d('m87_jobs_total', { result: 'Succeeded' })).toBe((stack.network === 'veth' ? 4 : 3) + f);
    expect(d('m87_jobs_total', { result: 'Failed' })).toBe(stack.network === 'veth' ? 1 : 2);
    expect(d('m87_envelope_verifications_total', { result: 'verified' })).toBe(4 + f);
    expect(d('m87_envelope_verifications_total', { result: 'refused' })).toBe(1);
    expect(d('m87_topology_hits_total', { topology: 'repo_read_then_network' })).toBe(1);
    expect(d('m87_decisions_total', { code: 'READ_SECRETS_FORBIDDEN' })).toBe(1);
    expect(d('m87_decision_duration_seconds_count', {})).toBe(6 + 3 * f);
  });

  it.skipIf(stack.repository === undefined)('(f) fix the failing test: step Pod in the tools\' images, patch and report retrievable, escaping patch and unknown tool denied', async () => {
    const r = scenario('f');
    expect(r.problems).toEqual([]);
    const fix = only('f', 0);
    const job = fix.job!;
    expect(job.spec.envelope.steps.map((s) => s.tool)).toEqual(['git-checkout', 'apply-patch', 'run-tests']);
    expect(job.status?.receipt?.steps.map((s) => [s.tool, s.exitCode])).toEqual([
      ['git-checkout', 0],
      ['apply-patch', 0],
      ['run-tests', 0],
    ]);
    expect(job.status?.receipt?.usage.externalIO).toBeGreaterThanOrEqual(2);
    const pod = await getPod(stack.admin, ns, job.status!.podName!);
    const spec = (pod as unknown as { spec?: { initContainers?: { name: string }[] } } | undefined)?.spec;
    expect(spec?.initContainers?.map((c) => c.name)).toEqual(['install-runner', 'step-0', 'step-1', 'step-2']);
    expect(stack.repository!.server.requests.some((q) => q.startsWith('POST /calc/git-upload-pack'))).toBe(true);
    expect(only('f', 1).decision.spec.reasons.find((x) => x.code === 'PATH_OUTSIDE_WORKSPACE')?.message).toContain('steps[1].args.patch');
    expect(only('f', 2).decision.spec.reasons.find((x) => x.code === 'TOOL_UNKNOWN')?.message).toContain('steps[1].tool');
    expect(only('f', 1).job).toBeUndefined();
    expect(only('f', 2).job).toBeUndefined();
  });
});
