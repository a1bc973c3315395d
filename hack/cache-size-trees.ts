// Ten proposal trees of the bench's memory mix (bench/mix.ts: 7 ALLOW, 2 DENY, 1 REQUIRE_HUMAN), built by
// the controller's own code as it writes them (the engine's Decision, the minted and signed Job, the job Pod
// and NetworkPolicy, the Proposal status) plus what the API server adds (uid, resourceVersion, timestamps,
// managedFields, Pod defaults, an unschedulable Pod's status). Input for hack/cache-size.ts without a control
// plane. By default the trees are as the bench left them without a node (Jobs Pending, their Pods and
// NetworkPolicies present, the REQUIRE_HUMAN one awaiting approval); with --finished as the memory phase
// leaves them (bench/README.md): every Job Succeeded with its receipt recorded and its Pod and NetworkPolicy
// deleted (retention), the REQUIRE_HUMAN proposal Expired, every Proposal finished.
//
//   bash hack/env.sh node hack/cache-size-trees.ts /tmp/trees.json [--finished]
//   bash hack/env.sh node --expose-gc hack/cache-size.ts /tmp/trees.json --fields
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { proposalSpec, type ProposalKind } from '../bench/mix.ts';
import { API_VERSION, LABELS } from '../src/api/group.ts';
import { ProposalSpec } from '../src/api/proposal.ts';
import { buildJobPod } from '../src/controller/job-pod.ts';
import { buildJob } from '../src/controller/minting.ts';
import { labelValue, MANAGED_BY, jobPodName } from '../src/controller/names.ts';
import { buildNetworkPolicy } from '../src/controller/network-policy.ts';
import { controllerRef } from '../src/controller/owner.ts';
import { desiredProposalStatus } from '../src/controller/proposal-status.ts';
import { jobFacts } from '../src/controller/receipt-check.ts';
import { sha256Hex } from '../src/hash/canonical.ts';
import { setCondition } from '../src/runtime/conditions.ts';
import { decisionFor, evaluationInput, signingKey } from '../test/unit/controller/fixtures.ts';
import { TEST_CATALOGUE } from '../test/support/tool-catalogue.ts';

const finished = process.argv.includes('--finished');
const outFile = process.argv.slice(2).find((a) => !a.startsWith('--'));
const ns = 'bench-memory';
const submitter = 'system:serviceaccount:m87-agents:casey';
const ts = '2026-12-06T21:00:00Z';
let rv = 100000;
const mf = (manager: string, op: string, fields: object) => ({ manager, operation: op, apiVersion: API_VERSION, time: ts, fieldsType: 'FieldsV1', fieldsV1: fields });
const out: Record<string, unknown[]> = { proposals: [], decisions: [], jobs: [], pods: [], networkPolicies: [] };
const kinds: ProposalKind[] = ['allow', 'allow', 'deny', 'allow', 'allow', 'human', 'allow', 'deny', 'allow', 'allow'];
for (const [i, kind] of kinds.entries()) {
  const name = `memory-${String(i).padStart(6, '0')}`;
  const puid = randomUUID();
  const s = { ...proposalSpec(kind, submitter, i), agent: 'casey' };
  const input = evaluationInput(s, name, ns);
  input.proposal.uid = puid;
  const decision = decisionFor(input);
  const duid = randomUUID();
  const decisionObj = {
    ...decision,
    metadata: {
      name, namespace: ns, uid: duid, resourceVersion: String(rv++), generation: 1, creationTimestamp: ts,
      labels: { [LABELS.proposal]: labelValue(name), [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [controllerRef('Proposal', { name, uid: puid })],
      managedFields: [mf('m87-controller', 'Apply', { 'f:metadata': { 'f:labels': { 'f:a': {}, 'f:b': {} }, 'f:ownerReferences': {} }, 'f:spec': { 'f:outcome': {}, 'f:reasons': {}, 'f:effectiveEnvelope': {} } })],
    },
  };
  decisionObj.spec = { ...decision.spec, proposalRef: { ...decision.spec.proposalRef, uid: puid } };
  out.decisions!.push(decisionObj);
  const outcome = decision.spec.outcome;
  let jobRef: { name: string; uid: string } | undefined;
  if (outcome === 'ALLOW') {
    const juid = randomUUID();
    const job = buildJob({ proposal: { namespace: ns, name, uid: input.proposal.uid, hash: input.proposal.hash }, decision: { ...decision, metadata: { ...decision.metadata, uid: duid } }, approvalRefs: [], signingKey: signingKey() });
    const now = new Date(ts);
    let conditions = setCondition([], { type: 'EnvelopeVerified', status: 'Unknown', reason: 'PodPending', message: 'The Pod has not run yet.' }, now);
    conditions = setCondition(conditions, { type: 'Succeeded', status: 'Unknown', reason: 'PodPending', message: 'The Pod has not run yet.' }, now);
    const envelopeSteps = (job.spec as { envelope: { steps: { tool: string }[] } }).envelope.steps;
    // What the job reconciler records when the runner exits 0 (the kubelet stand-in's receipt).
    const receipt = {
      v: 1,
      status: 'Succeeded',
      reasonCode: '',
      jobUID: juid,
      deh: { claimed: (job.spec as { envelopeHash: string }).envelopeHash, recomputed: (job.spec as { envelopeHash: string }).envelopeHash, verified: true },
      steps: envelopeSteps.map((st) => ({ tool: st.tool, exitCode: 0, outputHash: sha256Hex('ok') })),
      usage: { steps: envelopeSteps.length, toolCalls: envelopeSteps.length, runtimeMs: 100, externalIO: 0 },
      artifacts: [],
    };
    const finishedConditions = setCondition(
      setCondition([], { type: 'EnvelopeVerified', status: 'True', reason: 'Verified', message: 'The runner verified the envelope hash and the signature.' }, now),
      { type: 'Succeeded', status: 'True', reason: 'Succeeded', message: 'The runner finished every step.' },
      now,
    );
    const jobObj = {
      ...job,
      metadata: { ...job.metadata, uid: juid, resourceVersion: String(rv++), generation: 1, creationTimestamp: ts, managedFields: [mf('m87-controller', 'Update', { 'f:spec': { 'f:envelope': {} } }), mf('m87-controller', 'Update', { 'f:status': { 'f:phase': {}, 'f:conditions': {} } })] },
      status: finished
        ? { phase: 'Succeeded', reason: 'Succeeded', message: 'The runner finished every step.', podName: jobPodName(name), networkPolicyName: `m87-job-${name}`, startTime: ts, completionTime: ts, receipt, conditions: finishedConditions, observedGeneration: 1 }
        : { phase: 'Pending', reason: 'PodPending', message: `Pod ${jobPodName(name)} is waiting to run.`, podName: jobPodName(name), networkPolicyName: `m87-job-${name}`, startTime: ts, conditions, observedGeneration: 1 },
    };
    out.jobs!.push(jobObj);
    jobRef = { name, uid: juid };
    const parsedJob = { metadata: { uid: juid }, spec: job.spec } as unknown as Parameters<typeof jobFacts>[0];
    const facts = jobFacts(parsedJob);
    const pod = buildJobPod({ job: { ...facts, namespace: ns, name, proposalName: name }, publicKeyConfigMap: 'm87-public-key', tools: Object.fromEntries(facts.envelope.steps.map((st) => [st.tool, TEST_CATALOGUE.get(st.tool)!])) });
    if (!finished) out.pods!.push({
      ...pod,
      metadata: { ...pod.metadata, uid: randomUUID(), resourceVersion: String(rv++), creationTimestamp: ts, ownerReferences: [controllerRef('Job', { name, uid: juid })], managedFields: [mf('m87-controller', 'Update', { 'f:spec': {} }), mf('kube-scheduler', 'Update', { 'f:status': { 'f:conditions': {} } })] },
      spec: { ...pod.spec, dnsPolicy: 'ClusterFirst', enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority', priority: 0, restartPolicy: 'Never', schedulerName: 'default-scheduler', serviceAccountName: 'default', terminationGracePeriodSeconds: 30, tolerations: [{ effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists', tolerationSeconds: 300 }, { effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists', tolerationSeconds: 300 }] },
      status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/0 nodes are available: no nodes available to schedule pods.', lastProbeTime: null, lastTransitionTime: ts }], qosClass: 'Burstable' },
    });
    const np = buildNetworkPolicy({ namespace: ns, name, uid: juid, proposalName: name }, facts.envelope.egress);
    if (!finished) out.networkPolicies!.push({ ...np, metadata: { ...np.metadata, uid: randomUUID(), resourceVersion: String(rv++), generation: 1, creationTimestamp: ts, managedFields: [mf('m87-controller', 'Update', { 'f:spec': {} })] } });
  }
  const status = desiredProposalStatus(undefined, {
    generation: 1,
    hash: input.proposal.hash,
    decision: { ref: { name, uid: duid }, outcome, reasons: decision.spec.reasons, expiresAt: decision.spec.expiresAt },
    approval: outcome === 'REQUIRE_HUMAN' ? { state: finished ? 'Expired' : 'Pending', approvedBy: [] } : undefined,
    job: jobRef
      ? finished
        ? { ref: jobRef, phase: 'Succeeded', reason: 'Succeeded', message: 'The runner finished every step.' }
        : { ref: jobRef, phase: 'Pending', reason: 'PodPending', message: `Pod ${jobPodName(name)} is waiting to run.` }
      : undefined,
  }, new Date(ts));
  out.proposals!.push({
    apiVersion: API_VERSION,
    kind: 'Proposal',
    metadata: {
      name, namespace: ns, uid: puid, resourceVersion: String(rv++), generation: 1, creationTimestamp: ts,
      annotations: { 'bench.m87.io/sent-at': '1733519999123.456', 'bench.m87.io/kind': kind },
      managedFields: [mf('loader', 'Update', { 'f:metadata': { 'f:annotations': {} }, 'f:spec': {} }), mf('m87-controller', 'Update', { 'f:status': { 'f:phase': {}, 'f:conditions': {} } })],
    },
    spec: ProposalSpec.parse(s),
    status,
  });
}
writeFileSync(outFile ?? '/tmp/cache-work/synthetic.json', JSON.stringify(out));
console.log(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.length])), out.decisions!.map((d) => (d as { spec: { outcome: string } }).spec.outcome).join(','));
