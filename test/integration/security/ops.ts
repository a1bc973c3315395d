// The operations of the security matrix: every verb on every kind, each with the outcome the design expects
// for each identity. Identities not named in `expect` are expected to be refused by RBAC.
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, kubeRequest, type KubeRequest } from '../../../src/runtime/kube-http.ts';
import {
  approvalObject,
  configMapObject,
  decisionObject,
  jobNetworkPolicyObject,
  jobObject,
  jobPodObject,
  networkPolicyObject,
  proposalObject,
  M87_CONFIGMAP_LABEL,
  PUBLIC_KEY_LABELS,
  restrictedPodObject,
  type KubeObjectJson,
} from '../../../dev/security/fixtures.ts';
import { classify, type Observation, type Outcome } from '../../../dev/security/matrix.ts';
import { objectPath } from '../../../dev/security/resources.ts';
import { usernameOf, type Identity, type IdentityContext } from './identities.ts';

export interface Ref {
  name: string;
  uid: string;
}

/** Objects that exist before the matrix runs (created by the identities that create them in production). */
export interface Fixtures {
  proposal: Ref & { hash: string };
  decision: Ref;
  approval: Ref;
  job: Ref;
  jobPod: string;
  jobNetworkPolicy: string;
  publicKeyConfigMap: string;
  agentProfile: string;
  governancePolicy: string;
  controllerSecret: string;
  /** Another Secret in the controller namespace: the controller may get only its two keys by name. */
  otherControllerSecret: string;
  jobNamespaceSecret: string;
}

export interface OpContext extends IdentityContext {
  otherNamespace: string;
  /** Random suffix for cluster-scoped names (several runs may share a cluster). */
  suffix: string;
  kc: Record<Identity, KubeConfig>;
  fixtures: Fixtures;
}

export interface Op {
  kind: string;
  verb: string;
  case: string;
  expect: Partial<Record<Identity, Outcome>>;
  /** Creates what this identity's request acts on (as the identity that creates it in production). */
  prepare?: (id: Identity) => Promise<void>;
  run: (id: Identity) => Promise<Observation>;
  /** Run all identities at once (watches take a second each). */
  concurrent?: boolean;
}

export const ALLOW: Outcome = 'allowed';
export const RBAC: Outcome = 'denied:rbac';
export const IMMUTABLE: Outcome = 'denied:immutable';
export const vap = (policy: string): Outcome => `denied:admission:m87-${policy}`;

const allow = (...ids: Identity[]): Partial<Record<Identity, Outcome>> => Object.fromEntries(ids.map((id) => [id, ALLOW]));

export function expectedOutcome(op: Op, id: Identity): Outcome {
  return op.expect[id] ?? RBAC;
}

function messageOf(error: KubeApiError): string {
  const body: unknown = error.body;
  if (body !== null && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  return typeof body === 'string' ? body : error.message;
}

/** Sends one request as kc and classifies the answer. */
export async function send(kc: KubeConfig, req: KubeRequest): Promise<Observation> {
  try {
    await kubeRequest(kc, req);
    return { outcome: 'allowed', status: 200, message: '' };
  } catch (error) {
    if (!(error instanceof KubeApiError)) throw error;
    const message = messageOf(error);
    return { outcome: classify(error.code, message), status: error.code, message };
  }
}

/** Sends a request and throws unless it succeeds (fixtures, which must exist for the matrix to mean anything). */
export async function must<T = unknown>(kc: KubeConfig, req: KubeRequest): Promise<T> {
  return kubeRequest<T>(kc, req);
}

const MERGE = 'application/merge-patch+json';

function create(obj: KubeObjectJson): KubeRequest {
  return { method: 'POST', path: objectPath(obj, { collection: true }), body: obj };
}

function ref(kind: string, namespace: string | undefined, name: string): { kind: string; metadata: { name: string; namespace?: string } } {
  return { kind, metadata: namespace === undefined ? { name } : { name, namespace } };
}

function getReq(kind: string, namespace: string | undefined, name: string): KubeRequest {
  return { method: 'GET', path: objectPath(ref(kind, namespace, name)) };
}

function listReq(kind: string, namespace: string | undefined): KubeRequest {
  return { method: 'GET', path: objectPath(ref(kind, namespace, 'x'), { collection: true }) };
}

function watchReq(kind: string, namespace: string | undefined): KubeRequest {
  return { ...listReq(kind, namespace), query: { watch: 'true', timeoutSeconds: 1 } };
}

function patchReq(kind: string, namespace: string | undefined, name: string, body: unknown, opts: { subresource?: string; contentType?: string } = {}): KubeRequest {
  return {
    method: 'PATCH',
    path: objectPath(ref(kind, namespace, name), opts.subresource !== undefined ? { subresource: opts.subresource } : {}),
    contentType: opts.contentType ?? MERGE,
    body,
  };
}

function deleteReq(kind: string, namespace: string | undefined, name: string): KubeRequest {
  return { method: 'DELETE', path: objectPath(ref(kind, namespace, name)) };
}

/** get, list and watch of one kind, with the same readers. */
function reads(kind: string, display: string, namespace: string | undefined, name: string, readers: Identity[], ctx: OpContext): Op[] {
  const as = (req: KubeRequest) => (id: Identity) => send(ctx.kc[id], req);
  return [
    { kind: display, verb: 'get', case: `read ${name}`, expect: allow(...readers), run: as(getReq(kind, namespace, name)) },
    { kind: display, verb: 'list', case: namespace === undefined ? 'list all' : 'list the job namespace', expect: allow(...readers), run: as(listReq(kind, namespace)) },
    {
      kind: display,
      verb: 'watch',
      case: namespace === undefined ? 'watch all' : 'watch the job namespace',
      expect: allow(...readers),
      run: as(watchReq(kind, namespace)),
      concurrent: true,
    },
  ];
}

const M87_READERS: Identity[] = ['agent', 'alice', 'bob', 'viewer', 'controller', 'admin'];
const POLICY_READERS: Identity[] = ['alice', 'bob', 'viewer', 'controller', 'admin'];

export function proposalOps(ctx: OpContext): Op[] {
  const ns = ctx.jobNamespace;
  const p = ctx.fixtures.proposal;
  const kind = 'Proposal';
  const other = `system:serviceaccount:${ns}:jordan`;
  return [
    {
      kind,
      verb: 'create',
      case: 'spec.submittedBy = the caller',
      expect: allow('agent', 'admin'),
      run: (id) => send(ctx.kc[id], create(proposalObject({ namespace: ns, name: `p-own-${id}`, submittedBy: usernameOf(id, ctx) }))),
    },
    {
      kind,
      verb: 'create',
      case: `spec.submittedBy = someone else (${other})`,
      expect: { agent: vap('proposal-submitter'), admin: vap('proposal-submitter') },
      run: (id) => send(ctx.kc[id], create(proposalObject({ namespace: ns, name: `p-other-${id}`, submittedBy: other }))),
    },
    {
      kind,
      verb: 'create',
      case: 'in a namespace where the agent is not bound (spec.submittedBy = the caller)',
      expect: allow('admin'),
      run: (id) => send(ctx.kc[id], create(proposalObject({ namespace: ctx.otherNamespace, name: `p-elsewhere-${id}`, submittedBy: usernameOf(id, ctx) }))),
    },
    ...reads(kind, kind, ns, p.name, [...M87_READERS, 'intern'], ctx),
    {
      kind,
      verb: 'patch',
      case: 'add a label after the decision (metadata only)',
      expect: allow('admin'),
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, p.name, { metadata: { labels: { [`edited-by-${id}`]: 'true' } } })),
    },
    {
      kind,
      verb: 'patch',
      case: 'change spec.summary after the decision',
      expect: { admin: IMMUTABLE },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, p.name, { spec: { summary: `edited by ${id}` } })),
    },
    {
      kind,
      verb: 'update',
      case: 'PUT the object with a changed spec.summary',
      expect: { admin: IMMUTABLE },
      run: async (id) => {
        const current = await must<KubeObjectJson>(ctx.kc.admin, getReq(kind, ns, p.name));
        const body = { ...current, spec: { ...current.spec, summary: `replaced by ${id}` } };
        return send(ctx.kc[id], { method: 'PUT', path: objectPath(current), body });
      },
    },
    {
      kind,
      verb: 'patch status',
      case: 'set status.phase (proposals/status)',
      expect: { controller: ALLOW, admin: vap('controller-writes') },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, p.name, { status: { phase: 'AwaitingApproval' } }, { subresource: 'status' })),
    },
    {
      kind,
      verb: 'delete',
      case: 'delete a proposal',
      // The controller: retention deletes a finished tree after its audit record (docs/audit.md).
      expect: allow('admin', 'controller'),
      prepare: async (id) => {
        await must(ctx.kc.admin, create(proposalObject({ namespace: ns, name: `p-del-${id}`, submittedBy: 'admin' })));
      },
      run: (id) => send(ctx.kc[id], deleteReq(kind, ns, `p-del-${id}`)),
    },
  ];
}

export function decisionOps(ctx: OpContext): Op[] {
  const ns = ctx.jobNamespace;
  const { proposal, decision } = ctx.fixtures;
  const kind = 'Decision';
  const newDecision = (name: string) => decisionObject({ namespace: ns, name, proposal, submittedBy: usernameOf('agent', ctx) });
  return [
    {
      kind,
      verb: 'create',
      case: 'record a decision for the proposal',
      expect: { controller: ALLOW, admin: vap('controller-writes') },
      run: (id) => send(ctx.kc[id], create(newDecision(`d-${id}`))),
    },
    ...reads(kind, kind, ns, decision.name, M87_READERS, ctx),
    {
      kind,
      verb: 'patch',
      case: 'add a label',
      expect: { admin: vap('controller-writes') },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, decision.name, { metadata: { labels: { [`edited-by-${id}`]: 'true' } } })),
    },
    {
      kind,
      verb: 'patch',
      case: 'add and remove a finalizer only (what the garbage collector does)',
      expect: allow('admin'),
      run: async (id) => {
        const added = await send(ctx.kc[id], patchReq(kind, ns, decision.name, { metadata: { finalizers: ['m87.io/security-test'] } }));
        if (added.outcome !== 'allowed') return added;
        return send(ctx.kc[id], patchReq(kind, ns, decision.name, { metadata: { finalizers: null } }));
      },
    },
    {
      kind,
      verb: 'patch status',
      case: 'set status.conditions (decisions/status)',
      expect: { controller: ALLOW, admin: vap('controller-writes') },
      run: (id) =>
        send(
          ctx.kc[id],
          patchReq(
            kind,
            ns,
            decision.name,
            { status: { conditions: [{ type: 'Recorded', status: 'True', reason: 'Test', message: id, lastTransitionTime: '2025-01-01T00:00:00Z' }] } },
            { subresource: 'status' },
          ),
        ),
    },
    {
      kind,
      verb: 'delete',
      case: 'delete a decision',
      expect: allow('admin'),
      prepare: async (id) => {
        await must(ctx.kc.controller, create(newDecision(`d-del-${id}`)));
      },
      run: (id) => send(ctx.kc[id], deleteReq(kind, ns, `d-del-${id}`)),
    },
  ];
}

export function approvalOps(ctx: OpContext): Op[] {
  const ns = ctx.jobNamespace;
  const { proposal, approval } = ctx.fixtures;
  const kind = 'Approval';
  const approvers: Identity[] = ['alice', 'bob', 'viewer', 'controller', 'admin', 'intern'];
  return [
    {
      kind,
      verb: 'create (approve)',
      case: 'approve the proposal, spec.approver = the caller',
      expect: { alice: ALLOW, bob: ALLOW, admin: ALLOW, intern: vap('approval-approver') },
      run: (id) => send(ctx.kc[id], create(approvalObject({ namespace: ns, name: `a-own-${id}`, proposal, approver: usernameOf(id, ctx) }))),
    },
    {
      kind,
      verb: 'create (approve)',
      case: 'approve in someone else\'s name (spec.approver = alice, or bob for alice)',
      expect: { alice: vap('approval-approver'), bob: vap('approval-approver'), admin: vap('approval-approver'), intern: vap('approval-approver') },
      run: (id) =>
        send(ctx.kc[id], create(approvalObject({ namespace: ns, name: `a-other-${id}`, proposal, approver: id === 'alice' ? 'bob' : 'alice' }))),
    },
    ...reads(kind, kind, ns, approval.name, approvers, ctx),
    {
      kind,
      verb: 'patch',
      // The controller may patch an Approval's metadata: it adds the Proposal as owner, so the Approval goes
      // with it (issue 13). The spec stays immutable for everyone.
      case: 'add a label',
      expect: allow('admin', 'controller'),
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, approval.name, { metadata: { labels: { [`edited-by-${id}`]: 'true' } } })),
    },
    {
      kind,
      verb: 'patch',
      case: 'change spec.verdict to Reject',
      expect: { admin: IMMUTABLE, controller: IMMUTABLE },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, approval.name, { spec: { verdict: 'Reject' } })),
    },
    {
      kind,
      verb: 'patch status',
      case: 'mark it Accepted (approvals/status)',
      expect: { controller: ALLOW, admin: vap('controller-writes') },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, approval.name, { status: { state: 'Accepted', reason: 'Accepted' } }, { subresource: 'status' })),
    },
    {
      kind,
      verb: 'delete',
      case: 'delete an approval',
      expect: allow('admin'),
      prepare: async (id) => {
        await must(ctx.kc.alice, create(approvalObject({ namespace: ns, name: `a-del-${id}`, proposal, approver: 'alice' })));
      },
      run: (id) => send(ctx.kc[id], deleteReq(kind, ns, `a-del-${id}`)),
    },
  ];
}

export function jobOps(ctx: OpContext): Op[] {
  const ns = ctx.jobNamespace;
  const { proposal, decision, job } = ctx.fixtures;
  const kind = 'Job';
  const newJob = (name: string) => jobObject({ namespace: ns, name, proposal, decision });
  return [
    {
      kind,
      verb: 'create',
      case: 'mint a job',
      expect: { controller: ALLOW, admin: vap('controller-writes') },
      run: (id) => send(ctx.kc[id], create(newJob(`j-${id}`))),
    },
    ...reads(kind, kind, ns, job.name, M87_READERS, ctx),
    {
      kind,
      verb: 'patch',
      case: 'add a label',
      expect: { admin: vap('controller-writes') },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, job.name, { metadata: { labels: { [`edited-by-${id}`]: 'true' } } })),
    },
    {
      kind,
      verb: 'patch status',
      case: 'set status.phase (jobs/status)',
      expect: { controller: ALLOW, admin: vap('controller-writes') },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, job.name, { status: { phase: 'Pending' } }, { subresource: 'status' })),
    },
    {
      kind,
      verb: 'delete',
      case: 'delete a job',
      expect: allow('admin'),
      prepare: async (id) => {
        await must(ctx.kc.controller, create(newJob(`j-del-${id}`)));
      },
      run: (id) => send(ctx.kc[id], deleteReq(kind, ns, `j-del-${id}`)),
    },
  ];
}

export function clusterKindOps(ctx: OpContext, templates: { agentProfile: KubeObjectJson; governancePolicy: KubeObjectJson }): Op[] {
  const named = (template: KubeObjectJson, name: string): KubeObjectJson => ({ ...template, metadata: { name } });
  const ops: Op[] = [];
  for (const [kind, fixture, template] of [
    ['AgentProfile', ctx.fixtures.agentProfile, templates.agentProfile],
    ['GovernancePolicy', ctx.fixtures.governancePolicy, templates.governancePolicy],
  ] as const) {
    const short = kind === 'AgentProfile' ? 'ap' : 'gp';
    ops.push(
      ...reads(kind, kind, undefined, fixture, POLICY_READERS, ctx),
      {
        kind,
        verb: 'create',
        case: `create a ${kind}`,
        expect: allow('admin'),
        run: (id) => send(ctx.kc[id], create(named(template, `sec-${short}-${id}-${ctx.suffix}`))),
      },
      {
        kind,
        verb: 'patch',
        case: 'add a label',
        expect: allow('admin'),
        run: (id) => send(ctx.kc[id], patchReq(kind, undefined, fixture, { metadata: { labels: { [`edited-by-${id}`]: 'true' } } })),
      },
      {
        kind,
        verb: 'delete',
        case: `delete a ${kind}`,
        expect: allow('admin'),
        prepare: async (id) => {
          await must(ctx.kc.admin, create(named(template, `sec-${short}-del-${id}-${ctx.suffix}`)));
        },
        run: (id) => send(ctx.kc[id], deleteReq(kind, undefined, `sec-${short}-del-${id}-${ctx.suffix}`)),
      },
    );
  }
  ops.push({
    kind: 'GovernancePolicy',
    verb: 'patch status',
    case: 'set status (governancepolicies/status)',
    expect: { controller: ALLOW, admin: vap('controller-writes') },
    run: (id) => send(ctx.kc[id], patchReq('GovernancePolicy', undefined, ctx.fixtures.governancePolicy, { status: { observedGeneration: 1 } }, { subresource: 'status' })),
  });
  return ops;
}

export function jobPodOps(ctx: OpContext): Op[] {
  const ns = ctx.jobNamespace;
  const { job, proposal, jobPod } = ctx.fixtures;
  const kind = 'Pod (m87 job)';
  const named = (name: string): KubeObjectJson => {
    const pod = jobPodObject({ namespace: ns, job, proposalName: proposal.name });
    return { ...pod, metadata: { ...pod.metadata, name } };
  };
  const podWriters = { admin: vap('job-pods'), editor: vap('job-pods') };
  return [
    {
      kind,
      verb: 'create',
      case: 'a job Pod as the controller builds it (labels + signed annotations)',
      expect: { controller: ALLOW, ...podWriters },
      run: (id) => send(ctx.kc[id], create(named(`x-${id}`))),
    },
    {
      kind,
      verb: 'create',
      case: 'a Pod carrying only the label governance.m87.io/job',
      expect: { controller: ALLOW, ...podWriters },
      run: (id) => send(ctx.kc[id], create(restrictedPodObject(ns, `x-label-${id}`, { labels: { 'governance.m87.io/job': job.name } }))),
    },
    {
      kind,
      verb: 'create',
      case: 'a Pod carrying only a governance.m87.io/envelope annotation',
      expect: { controller: ALLOW, ...podWriters },
      run: (id) => send(ctx.kc[id], create(restrictedPodObject(ns, `x-annot-${id}`, { annotations: { 'governance.m87.io/envelope': '{}' } }))),
    },
    ...reads('Pod', kind, ns, jobPod, ['controller', 'admin', 'editor'], ctx),
    {
      kind,
      verb: 'patch',
      case: 'change the governance.m87.io/envelope-hash annotation',
      expect: podWriters,
      run: (id) => send(ctx.kc[id], patchReq('Pod', ns, jobPod, { metadata: { annotations: { 'governance.m87.io/envelope-hash': 'f'.repeat(64) } } })),
    },
    {
      kind,
      verb: 'patch',
      case: 'add a governance.m87.io/ annotation',
      expect: podWriters,
      run: (id) => send(ctx.kc[id], patchReq('Pod', ns, jobPod, { metadata: { annotations: { 'governance.m87.io/extra': id } } })),
    },
    {
      kind,
      verb: 'patch',
      case: 'remove the governance.m87.io/job label (would leave its NetworkPolicy)',
      expect: podWriters,
      run: (id) => send(ctx.kc[id], patchReq('Pod', ns, jobPod, { metadata: { labels: { 'governance.m87.io/job': null } } })),
    },
    {
      kind,
      verb: 'patch',
      case: 'add an unrelated annotation',
      expect: allow('admin', 'editor'),
      run: (id) => send(ctx.kc[id], patchReq('Pod', ns, jobPod, { metadata: { annotations: { [`example.com/noted-by-${id}`]: 'true' } } })),
    },
    {
      kind,
      verb: 'patch',
      case: 'shorten spec.activeDeadlineSeconds',
      expect: podWriters,
      run: (id) => send(ctx.kc[id], patchReq('Pod', ns, jobPod, { spec: { activeDeadlineSeconds: 5 } })),
    },
    {
      kind,
      verb: 'update ephemeralcontainers',
      case: 'attach a debug container (PUT pods/ephemeralcontainers; the edit role does not grant it)',
      expect: { admin: vap('job-pods') },
      run: async (id) => {
        const current = await must<KubeObjectJson>(ctx.kc.admin, getReq('Pod', ns, jobPod));
        const debug = {
          name: `debug-${id}`,
          image: 'registry.k8s.io/pause:3.10',
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true },
        };
        const spec = current.spec as { ephemeralContainers?: unknown[] } | undefined;
        const body = { ...current, spec: { ...spec, ephemeralContainers: [...(spec?.ephemeralContainers ?? []), debug] } };
        return send(ctx.kc[id], { method: 'PUT', path: objectPath(current, { subresource: 'ephemeralcontainers' }), body });
      },
    },
    {
      kind,
      verb: 'delete',
      case: 'delete a job Pod (stops the job; fails closed)',
      expect: allow('controller', 'admin', 'editor'),
      prepare: async (id) => {
        await must(ctx.kc.controller, create(named(`x-del-${id}`)));
      },
      run: (id) => send(ctx.kc[id], { ...deleteReq('Pod', ns, `x-del-${id}`), body: { gracePeriodSeconds: 0 } }),
    },
    {
      kind: 'Pod (other)',
      verb: 'create',
      case: 'a Pod without m87 labels or annotations (not m87\'s business)',
      expect: allow('controller', 'admin', 'editor'),
      run: (id) => send(ctx.kc[id], create(restrictedPodObject(ns, `plain-${id}`))),
    },
  ];
}

export function networkPolicyOps(ctx: OpContext): Op[] {
  const ns = ctx.jobNamespace;
  const { job, proposal, jobNetworkPolicy } = ctx.fixtures;
  const kind = 'NetworkPolicy';
  const named = (name: string): KubeObjectJson => {
    const np = jobNetworkPolicyObject({ namespace: ns, job, proposalName: proposal.name, egress: [{ host: '203.0.113.10', port: 443 }] });
    return { ...np, metadata: { ...np.metadata, name } };
  };
  return [
    {
      kind,
      verb: 'create',
      case: 'a job NetworkPolicy as the controller builds it',
      expect: { controller: ALLOW, admin: vap('job-networkpolicies'), editor: vap('job-networkpolicies') },
      run: (id) => send(ctx.kc[id], create(named(`n-${id}`))),
    },
    ...reads(kind, kind, ns, jobNetworkPolicy, ['controller', 'admin', 'editor'], ctx),
    {
      kind,
      verb: 'patch',
      case: 'widen the job NetworkPolicy to allow all egress',
      expect: { admin: vap('job-networkpolicies'), editor: vap('job-networkpolicies') },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, jobNetworkPolicy, { spec: { egress: [{}] } })),
    },
    {
      kind,
      verb: 'patch',
      case: 'remove its governance.m87.io/job label',
      expect: { admin: vap('job-networkpolicies'), editor: vap('job-networkpolicies') },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, jobNetworkPolicy, { metadata: { labels: { 'governance.m87.io/job': null } } })),
    },
    {
      kind,
      verb: 'delete',
      case: 'delete a job NetworkPolicy (its Pod would lose the egress restriction)',
      expect: { controller: ALLOW, admin: vap('job-networkpolicies'), editor: vap('job-networkpolicies') },
      prepare: async (id) => {
        await must(ctx.kc.controller, create(named(`n-del-${id}`)));
      },
      run: (id) => send(ctx.kc[id], deleteReq(kind, ns, `n-del-${id}`)),
    },
    {
      kind,
      verb: 'create',
      case: 'another NetworkPolicy in the job namespace selecting every Pod ({}) and allowing all egress',
      expect: { controller: ALLOW, admin: vap('job-namespace-networkpolicies'), editor: vap('job-namespace-networkpolicies') },
      run: (id) => send(ctx.kc[id], create(networkPolicyObject(ns, `open-${id}`, {}))),
    },
    {
      kind,
      verb: 'create',
      case: 'another NetworkPolicy in the job namespace selecting app.kubernetes.io/managed-by=m87',
      expect: { controller: ALLOW, admin: vap('job-namespace-networkpolicies'), editor: vap('job-namespace-networkpolicies') },
      run: (id) => send(ctx.kc[id], create(networkPolicyObject(ns, `managed-${id}`, { matchLabels: { 'app.kubernetes.io/managed-by': 'm87' } }))),
    },
    {
      kind,
      verb: 'create',
      case: 'another NetworkPolicy in the job namespace selecting only app=web (no job Pod)',
      expect: allow('controller', 'admin', 'editor'),
      run: (id) => send(ctx.kc[id], create(networkPolicyObject(ns, `web-${id}`, { matchLabels: { app: 'web' } }))),
    },
    {
      kind,
      verb: 'create',
      case: 'another NetworkPolicy selecting every Pod in a namespace that is not a job namespace',
      expect: allow('controller', 'admin'),
      run: (id) => send(ctx.kc[id], create(networkPolicyObject(ctx.otherNamespace, `open-${id}`, {}))),
    },
  ];
}

export function configMapOps(ctx: OpContext): Op[] {
  const ns = ctx.jobNamespace;
  const name = ctx.fixtures.publicKeyConfigMap;
  const kind = 'ConfigMap';
  const writers = { admin: vap('public-key-configmaps'), editor: vap('public-key-configmaps') };
  return [
    {
      kind,
      verb: 'create',
      case: 'a ConfigMap labelled as the controller labels its public key (app.kubernetes.io/managed-by=m87)',
      expect: { controller: ALLOW, ...writers },
      run: (id) => send(ctx.kc[id], create(configMapObject(ns, `c-${id}`, { 'public.pem': 'forged' }, { ...PUBLIC_KEY_LABELS }))),
    },
    {
      kind,
      verb: 'create',
      case: `a ConfigMap labelled ${M87_CONFIGMAP_LABEL}`,
      expect: { controller: ALLOW, ...writers },
      run: (id) => send(ctx.kc[id], create(configMapObject(ns, `c-label-${id}`, { 'public.pem': 'forged' }, { [M87_CONFIGMAP_LABEL]: 'true' }))),
    },
    {
      kind,
      verb: 'patch',
      case: 'remove the app.kubernetes.io/managed-by label from the controller\'s ConfigMap',
      expect: { ...writers },
      run: (id) => send(ctx.kc[id], patchReq(kind, ns, name, { metadata: { labels: { 'app.kubernetes.io/managed-by': null } } })),
    },
    {
      kind,
      verb: 'update',
      case: 'replace the public key in the controller\'s ConfigMap',
      expect: { controller: ALLOW, ...writers },
      run: async (id) => {
        const current = await must<KubeObjectJson>(ctx.kc.admin, getReq(kind, ns, name));
        return send(ctx.kc[id], { method: 'PUT', path: objectPath(current), body: { ...current, data: { 'public.pem': `key of ${id}` } } });
      },
    },
    {
      kind,
      verb: 'create',
      case: 'a ConfigMap without m87 metadata',
      expect: allow('controller', 'admin', 'editor'),
      run: (id) => send(ctx.kc[id], create(configMapObject(ns, `plain-${id}`, { k: 'v' }))),
    },
  ];
}

export function controllerNamespaceOps(ctx: OpContext): Op[] {
  const ctl = ctx.controllerNamespace;
  const ns = ctx.jobNamespace;
  return [
    {
      kind: 'Secret',
      verb: 'get',
      case: 'read the signing-key Secret in the controller namespace',
      expect: allow('controller', 'admin'),
      run: (id) => send(ctx.kc[id], getReq('Secret', ctl, ctx.fixtures.controllerSecret)),
    },
    {
      kind: 'Secret',
      verb: 'get',
      case: 'read another Secret in the controller namespace (e.g. one a policy names as its challenge key)',
      expect: allow('admin'),
      run: (id) => send(ctx.kc[id], getReq('Secret', ctl, ctx.fixtures.otherControllerSecret)),
    },
    {
      kind: 'Secret',
      verb: 'create',
      case: 'create a Secret in the controller namespace',
      expect: allow('controller', 'admin'),
      run: (id) => send(ctx.kc[id], create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `s-${id}`, namespace: ctl }, data: {} })),
    },
    {
      kind: 'Secret',
      verb: 'list',
      case: 'list Secrets in the controller namespace',
      expect: allow('admin'),
      run: (id) => send(ctx.kc[id], listReq('Secret', ctl)),
    },
    {
      kind: 'Secret',
      verb: 'get',
      case: 'read a Secret in the job namespace',
      expect: allow('admin', 'editor'),
      run: (id) => send(ctx.kc[id], getReq('Secret', ns, ctx.fixtures.jobNamespaceSecret)),
    },
    {
      kind: 'Lease',
      verb: 'create',
      case: 'take a leader-election Lease in the controller namespace',
      expect: allow('controller', 'admin'),
      run: (id) => send(ctx.kc[id], create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: `l-${id}`, namespace: ctl }, spec: {} })),
    },
    {
      kind: 'Namespace',
      verb: 'get',
      case: 'read the job namespace (its Pod Security label)',
      expect: allow('controller', 'admin', 'editor'),
      run: (id) => send(ctx.kc[id], getReq('Namespace', undefined, ns)),
    },
    {
      kind: 'SubjectAccessReview',
      verb: 'create',
      case: 'ask whether alice may approve the proposal',
      expect: allow('admin'),
      run: (id) =>
        send(ctx.kc[id], {
          method: 'POST',
          path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: 'alice',
              groups: ['m87:approvers'],
              resourceAttributes: { group: 'governance.m87.io', resource: 'proposals', verb: 'approve', namespace: ns, name: ctx.fixtures.proposal.name },
            },
          },
        }),
    },
    {
      kind: 'Event',
      verb: 'create',
      case: 'record an Event in the job namespace',
      expect: allow('controller', 'admin', 'editor'),
      run: (id) =>
        send(
          ctx.kc[id],
          create({
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { name: `e-${id}`, namespace: ns },
            involvedObject: { apiVersion: 'governance.m87.io/v1alpha1', kind: 'Proposal', name: ctx.fixtures.proposal.name, namespace: ns },
            reason: 'SecurityTest',
            message: `event by ${id}`,
            type: 'Normal',
          }),
        ),
    },
  ];
}
