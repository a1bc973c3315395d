// The real controller, in-process, authenticated as the chart's controller ServiceAccount (TokenRequest
// token) with nothing but the chart's RBAC, under the chart's admission policies: a human who is both
// submitter and approver cannot approve her own proposal (SelfApproval), a second approver can, and the
// controller then writes the Decision, Job, public-key ConfigMap, NetworkPolicy and Pod without a single
// refused request. The NetworkPolicies it produced are then analysed with np-guard's netpol-analyzer.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../../../src/api/group.ts';
import { startController, type RunningController } from '../../../src/controller/index.ts';
import { jobNetworkPolicyName, jobPodName } from '../../../src/controller/names.ts';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { approvalObject, proposalHashOf, type KubeObjectJson } from '../../../dev/security/fixtures.ts';
import { API_SERVER_SERVICE_IP, evaluateConnection, netpolAnalyzerBinary, type ConnectionQuery } from '../../../dev/security/netpol-analyzer.ts';
import { objectPath } from '../../../dev/security/resources.ts';
import { clusterKubeConfig, serviceAccountKubeConfig, waitFor } from '../../support/kube.ts';
import { CONTROLLER_SA, installSecurity, waitForAccess } from './install.ts';
import { send } from './ops.ts';
import { auditEvents } from '../../support/audit.ts';

const ALLOWLISTED = { host: '203.0.113.10', port: 443 } as const; // TEST-NET-3: only ever a string here
const ALLOWLISTED_NAME = { host: 'artifacts.example.com', port: 443 } as const;

const running: { controller?: RunningController } = {};
const logs: string[] = [];
const clusterObjects: { kind: string; name: string }[] = [];
const installed = await installSecurity('m87-sec-flow', {
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

afterAll(() => {
  // Everything the controller logged, for the reader of a failed run.
  if (logs.some((l) => l.includes('"level":50') || l.includes('"level":40'))) {
    process.stderr.write(`controller warnings and errors:\n${logs.filter((l) => /"level":(40|50)/.test(l)).join('')}`);
  }
});

const profileName = `sec-human-${suffix}`;
const policyName = `sec-policy-${suffix}`;
async function createAs(kc: typeof admin, obj: KubeObjectJson): Promise<KubeObjectJson> {
  return kubeRequest<KubeObjectJson>(kc, { method: 'POST', path: objectPath(obj, { collection: true }), body: obj });
}
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
    // The controller's Role grants get on its two keys, by name, in its own namespace: the challenge key lives there.
    approvals: { ...DEFAULT_POLICY_SPEC.approvals, challengeSecretRef: { ...DEFAULT_POLICY_SPEC.approvals.challengeSecretRef, namespace: controllerNamespace } },
    envelope: { ...DEFAULT_POLICY_SPEC.envelope, allowedEgress: [ALLOWLISTED, ALLOWLISTED_NAME] },
  },
});
clusterObjects.push({ kind: 'GovernancePolicy', name: policyName });

const controllerKc = await serviceAccountKubeConfig(controllerNamespace, CONTROLLER_SA);
await waitForAccess(controllerKc, '/apis/governance.m87.io/v1alpha1/proposals', 'the controller');
await waitForAccess(alice, `/apis/governance.m87.io/v1alpha1/namespaces/${jobNamespace}/proposals`, 'alice as an agent');
running.controller = await startController({
  kubeConfig: controllerKc,
  config: { namespace: controllerNamespace, policyName },
  logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) }),
  http: false,
  processMetrics: false,
  leaderElection: { leaseName: 'm87-controller', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
});

function get(kind: string, name: string): Promise<KubeObjectJson | undefined> {
  return kubeRequest<KubeObjectJson>(admin, { method: 'GET', path: objectPath({ kind, metadata: { name, namespace: jobNamespace } }) }).catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 404) return undefined;
    throw error;
  });
}

/** alice submits a DEPLOY proposal (REQUIRE_HUMAN under the default rules) and waits for its Decision. */
async function submitAndDecide(name: string, egress: { host: string; port: number }[]): Promise<KubeObjectJson> {
  const example = parse(readFileSync(join(REPO_ROOT, 'examples', 'proposal-deploy.yaml'), 'utf8')) as KubeObjectJson;
  const spec = example.spec as { envelope?: Record<string, unknown> };
  // DEPLOY always needs a human; one echo step (COMPUTE) keeps every other rule satisfied.
  const proposal = await createAs(alice, {
    apiVersion: API_VERSION,
    kind: 'Proposal',
    metadata: { name, namespace: jobNamespace },
    spec: {
      ...spec,
      agent: profileName,
      submittedBy: 'alice',
      effects: ['COMPUTE', 'DEPLOY'],
      steps: [{ tool: 'echo', args: { message: `deploy ${name}` } }],
      artifacts: [],
      envelope: { ...spec.envelope, egress },
    },
  });
  const decision = await waitFor(() => get('Decision', name), { what: `the Decision for ${name}`, timeoutMs: 60_000 });
  const { outcome, reasons } = decision.spec as { outcome?: string; reasons?: { code?: string; message?: string }[] };
  expect({ outcome, reasons: outcome === 'REQUIRE_HUMAN' ? [] : reasons }).toEqual({ outcome: 'REQUIRE_HUMAN', reasons: [] });
  // Other test files on the same plane may have authorized effects for alice within the session window, so
  // this proposal can also complete a toxic pair; then the approver must answer its challenge.
  const prompt = (decision.spec as { challenge?: { prompt?: string } }).challenge?.prompt;
  if (prompt !== undefined) challengeAnswers.set(name, /topology (\w+)/.exec(prompt)?.[1] ?? '');
  return proposal;
}

/** The challenge answer per proposal, for decisions that carry a challenge. */
const challengeAnswers = new Map<string, string>();

async function approve(who: typeof alice, approver: string, proposal: KubeObjectJson): Promise<KubeObjectJson> {
  const name = `${proposal.metadata.name}-${approver}`;
  await createAs(
    who,
    approvalObject({
      namespace: jobNamespace,
      name,
      proposal: { name: proposal.metadata.name, uid: String(proposal.metadata.uid), hash: proposalHashOf(proposal) },
      approver,
      challengeResponse: challengeAnswers.get(proposal.metadata.name),
    }),
  );
  return waitFor(
    async () => {
      const a = await get('Approval', name);
      return (a?.status as { state?: string } | undefined)?.state !== undefined ? a : undefined;
    },
    { what: `the controller's verdict on Approval ${name}`, timeoutMs: 60_000 },
  );
}

describe('the controller under the chart\'s RBAC and admission policies', () => {
  let proposal: KubeObjectJson;

  it('rejects an approver approving her own proposal with SelfApproval, and mints nothing', async () => {
    proposal = await submitAndDecide('self-approval', [ALLOWLISTED]);
    const own = await approve(alice, 'alice', proposal);
    expect(own.status).toMatchObject({ state: 'Rejected', reason: 'SelfApproval' });
    expect(await get('Job', 'self-approval')).toBeUndefined();
  });

  it('accepts a second approver and runs the job: Job, NetworkPolicy and Pod written by the controller', async () => {
    const second = await approve(bob, 'bob', proposal);
    expect(second.status).toMatchObject({ state: 'Accepted' });
    await waitFor(() => get('Job', 'self-approval'), { what: 'the Job', timeoutMs: 60_000 });
    const pod = await waitFor(() => get('Pod', jobPodName('self-approval')), { what: 'the job Pod', timeoutMs: 60_000 });
    expect(pod.metadata.labels?.['governance.m87.io/job']).toBe('self-approval');
    expect(await get('NetworkPolicy', jobNetworkPolicyName('self-approval'))).toBeDefined();
  });

  it('its public-key ConfigMap is protected: a namespace editor cannot replace the key', async () => {
    const editorRb = {
      metadata: { name: 'sec-editor' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      subjects: [{ kind: 'ServiceAccount', name: 'editor', namespace: jobNamespace }],
    };
    await kubeRequest(admin, { method: 'POST', path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${jobNamespace}/rolebindings`, body: editorRb });
    const editor = await serviceAccountKubeConfig(jobNamespace, 'editor');
    await waitForAccess(editor, `/api/v1/namespaces/${jobNamespace}/configmaps`, 'editor');
    const name = running.controller?.config.publicKeyConfigMapName ?? '';
    const current = await waitFor(() => get('ConfigMap', name), { what: `ConfigMap ${name}` });
    const forged = await send(editor, { method: 'PUT', path: objectPath({ kind: 'ConfigMap', metadata: { name, namespace: jobNamespace } }), body: { ...current, data: { 'public.pem': 'forged' } } });
    expect(forged.outcome).toBe('denied:admission:m87-public-key-configmaps');
  });

  it('never had a request refused on the way (its RBAC is sufficient), by the API server\'s audit log', async () => {
    const identity = `system:serviceaccount:${controllerNamespace}:${CONTROLLER_SA}`;
    const events = (await auditEvents(admin)).filter((e) => e.user.username === identity);
    // The controller did its work under that identity (decisions, jobs, pods), so the check is not vacuous.
    const writes = events.filter((e) => e.verb === 'create' && e.responseStatus?.code === 201).map((e) => e.objectRef?.resource);
    for (const resource of ['decisions', 'jobs', 'networkpolicies', 'pods']) expect(writes).toContain(resource);
    const refused = events
      .filter((e) => e.responseStatus?.code === 403)
      .map((e) => `${e.verb} ${e.requestURI}: ${e.responseStatus?.message ?? ''}`.slice(0, 300));
    expect([...new Set(refused)]).toEqual([]);
  });
});

const analyzerDir = mkdtempSync(join(tmpdir(), 'm87-netpol-'));
afterAll(() => rmSync(analyzerDir, { recursive: true, force: true }));

/**
 * Writes the controller's NetworkPolicy and Pod for a job, as stored by the API server, plus a peer Pod and
 * the Namespaces the analyzer resolves selectors against, into a directory for netpol-analyzer.
 */
async function analyzerInput(job: string): Promise<string> {
  const jobDir = join(analyzerDir, job);
  mkdirSync(jobDir, { recursive: true });
  const np = await waitFor(() => get('NetworkPolicy', jobNetworkPolicyName(job)), { what: `NetworkPolicy of ${job}`, timeoutMs: 60_000 });
  const pod = await waitFor(() => get('Pod', jobPodName(job)), { what: `Pod of ${job}`, timeoutMs: 60_000 });
  const peer = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'peer', namespace: jobNamespace, labels: { app: 'peer' } }, spec: { containers: [{ name: 'c', image: 'x' }] } };
  const namespaces = [jobNamespace, 'kube-system'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } }));
  const strip = (o: KubeObjectJson) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace, labels: o.metadata.labels }, spec: o.spec });
  writeFileSync(join(jobDir, 'objects.yaml'), [...namespaces, strip(np), strip(pod), peer].map((o) => stringify(o)).join('---\n'));
  return jobDir;
}

type Case = [what: string, query: ConnectionQuery, allowed: boolean];

function verdicts(dir: string, cases: Case[]): { observed: Record<string, boolean>; expected: Record<string, boolean> } {
  return {
    observed: Object.fromEntries(cases.map(([what, query]) => [what, evaluateConnection(dir, query)])),
    expected: Object.fromEntries(cases.map(([what, , allowed]) => [what, allowed])),
  };
}

const jobPod = (job: string) => ({ namespace: jobNamespace, name: jobPodName(job) });
const peerPod = () => ({ namespace: jobNamespace, name: 'peer' });

describe('NetworkPolicy semantics of real job Pods (np-guard netpol-analyzer; static analysis, no packets)', () => {
  it('IP allowlist: job Pod → the API server address: blocked; → the allowlisted CIDR and port: allowed; → anything else: blocked', async () => {
    netpolAnalyzerBinary(); // a clear error when the analyzer is not built
    const pod = jobPod('self-approval');
    const { observed, expected } = verdicts(await analyzerInput('self-approval'), [
      ['API server (service address) :443', { source: pod, destinationIp: API_SERVER_SERVICE_IP, port: 443 }, false],
      ['API server (service address) :6443', { source: pod, destinationIp: API_SERVER_SERVICE_IP, port: 6443 }, false],
      [`allowlisted ${ALLOWLISTED.host}:${ALLOWLISTED.port}`, { source: pod, destinationIp: ALLOWLISTED.host, port: ALLOWLISTED.port }, true],
      [`allowlisted address, other port :80`, { source: pod, destinationIp: ALLOWLISTED.host, port: 80 }, false],
      ['allowlisted address and port over UDP', { source: pod, destinationIp: ALLOWLISTED.host, port: ALLOWLISTED.port, protocol: 'UDP' }, false],
      ['neighbouring address 203.0.113.11:443', { source: pod, destinationIp: '203.0.113.11', port: 443 }, false],
      ['public DNS 8.8.8.8:53/UDP', { source: pod, destinationIp: '8.8.8.8', port: 53, protocol: 'UDP' }, false],
      ['cloud metadata 169.254.169.254:80', { source: pod, destinationIp: '169.254.169.254', port: 80 }, false],
      ['peer Pod in the namespace :8080', { source: pod, destinationPod: peerPod(), port: 8080 }, false],
      ['ingress from the peer Pod :8080', { source: peerPod(), destinationPod: pod, port: 8080 }, false],
      // Control: the analyzer does say "allowed" for a Pod no policy isolates.
      ['control: the unisolated peer → 8.8.8.8:53/UDP', { source: peerPod(), destinationIp: '8.8.8.8', port: 53, protocol: 'UDP' }, true],
    ]);
    expect(observed).toEqual(expected);
  });

  it('named allowlist: other ports, other protocols and neighbours are blocked; the named port is open (the runner gate checks the name)', async () => {
    const proposal = await submitAndDecide('named-egress', [ALLOWLISTED_NAME]);
    const accepted = await approve(bob, 'bob', proposal);
    expect(accepted.status).toMatchObject({ state: 'Accepted' });
    const pod = jobPod('named-egress');
    const { observed, expected } = verdicts(await analyzerInput('named-egress'), [
      // A NetworkPolicy cannot name hosts: the port is open to addresses, the runner's egress gate admits the name.
      [`a public address on the named port :${ALLOWLISTED_NAME.port}`, { source: pod, destinationIp: '198.51.100.7', port: ALLOWLISTED_NAME.port }, true],
      ['a public address on another port :80', { source: pod, destinationIp: '198.51.100.7', port: 80 }, false],
      ['public DNS 8.8.8.8:53/UDP (only cluster DNS is allowed)', { source: pod, destinationIp: '8.8.8.8', port: 53, protocol: 'UDP' }, false],
      ['peer Pod in the namespace :8080', { source: pod, destinationPod: peerPod(), port: 8080 }, false],
      ['ingress from the peer Pod :8080', { source: peerPod(), destinationPod: pod, port: 8080 }, false],
    ]);
    expect(observed).toEqual(expected);
  });

  // For a host *name* the policy opens the port to public addresses only: cluster-internal and private
  // ranges (the API server's service address among them) stay closed.
  it('named allowlist: job Pod → the API server address: blocked', async () => {
    const pod = jobPod('named-egress');
    const { observed, expected } = verdicts(await analyzerInput('named-egress'), [
      [`API server (service address) :${ALLOWLISTED_NAME.port}`, { source: pod, destinationIp: API_SERVER_SERVICE_IP, port: ALLOWLISTED_NAME.port }, false],
    ]);
    expect(observed).toEqual(expected);
  });
});
