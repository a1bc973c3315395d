// The controller's informers (one per resource, shared by every reconciler) and the indexes they keep.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { PROPOSAL_PHASES } from '../api/proposal.ts';
import { Informer, type IndexFunc } from '../runtime/informer.ts';
import type { KubeObject, ResourceType } from '../runtime/resource.ts';
import { MANAGED_SELECTOR, PUBLIC_KEY_SELECTOR } from './names.ts';
import { AGENT_PROFILES, APPROVALS, CONFIG_MAPS, DECISIONS, GOVERNANCE_POLICIES, JOBS, NETWORK_POLICIES, PODS, PROPOSALS, TOOLS } from './resources.ts';
import { indexBySubmitter, SUBMITTER_INDEX } from './session-ledger.ts';

export interface Informers {
  proposals: Informer<KubeObject>;
  decisions: Informer<KubeObject>;
  approvals: Informer<KubeObject>;
  jobs: Informer<KubeObject>;
  profiles: Informer<KubeObject>;
  policies: Informer<KubeObject>;
  /** The tool catalogue (cluster-scoped Tool objects). */
  tools: Informer<KubeObject>;
  pods: Informer<KubeObject>;
  networkPolicies: Informer<KubeObject>;
  /** The public-key ConfigMaps the controller published (job Pods mount them). */
  publicKeys: Informer<KubeObject>;
}

/** Proposals index: undecided proposals by submitter (status says nothing was decided yet). */
export const UNDECIDED_BY_SUBMITTER = 'undecidedBySubmitter';
/** Proposals index: all undecided proposals under the value "1". */
export const UNDECIDED = 'undecided';
/** Approvals index: "namespace/proposalName". */
export const BY_PROPOSAL = 'byProposal';

/** Every phase after a decision: all but Pending and Throttled. */
const DECIDED_PHASES: ReadonlySet<string> = new Set(PROPOSAL_PHASES.filter((p) => p !== 'Pending' && p !== 'Throttled'));

/** Whether a Proposal's status records a decision (then the decider never looks at it again). */
export function statusDecided(obj: KubeObject): boolean {
  const phase = (obj.status as { phase?: unknown } | undefined)?.phase;
  return typeof phase === 'string' && DECIDED_PHASES.has(phase);
}

export function submitterOf(obj: KubeObject): string | undefined {
  const s = (obj.spec as { submittedBy?: unknown } | undefined)?.submittedBy;
  return typeof s === 'string' && s !== '' ? s : undefined;
}

/** The proposal an Approval names (same namespace), as "namespace/name". */
function approvalProposalKey(obj: KubeObject): string | undefined {
  const p = (obj.spec as { proposalName?: unknown } | undefined)?.proposalName;
  const ns = obj.metadata.namespace;
  return typeof p === 'string' && ns !== undefined ? `${ns}/${p}` : undefined;
}

const indexUndecidedBySubmitter: IndexFunc<KubeObject> = (obj) => {
  const s = submitterOf(obj);
  return s !== undefined && !statusDecided(obj) ? [s] : [];
};

const indexUndecided: IndexFunc<KubeObject> = (obj) => (statusDecided(obj) ? [] : ['1']);

const indexApprovalByProposal: IndexFunc<KubeObject> = (obj) => {
  const key = approvalProposalKey(obj);
  return key === undefined ? [] : [key];
};

export function createInformers(kc: KubeConfig, log: Logger): Informers {
  const informer = (resource: ResourceType, extra: { labelSelector?: string; indexers?: Record<string, IndexFunc<KubeObject>> } = {}): Informer<KubeObject> =>
    new Informer<KubeObject>({ kubeConfig: kc, resource, logger: log, ...extra });
  return {
    proposals: informer(PROPOSALS, { indexers: { [UNDECIDED_BY_SUBMITTER]: indexUndecidedBySubmitter, [UNDECIDED]: indexUndecided } }),
    decisions: informer(DECISIONS, { indexers: { [SUBMITTER_INDEX]: indexBySubmitter } }),
    approvals: informer(APPROVALS, { indexers: { [BY_PROPOSAL]: indexApprovalByProposal } }),
    jobs: informer(JOBS),
    profiles: informer(AGENT_PROFILES),
    policies: informer(GOVERNANCE_POLICIES),
    tools: informer(TOOLS),
    pods: informer(PODS, { labelSelector: MANAGED_SELECTOR }),
    networkPolicies: informer(NETWORK_POLICIES, { labelSelector: MANAGED_SELECTOR }),
    publicKeys: informer(CONFIG_MAPS, { labelSelector: PUBLIC_KEY_SELECTOR }),
  };
}

/** Every informer with its name (for start-up and readiness). */
export function namedInformers(informers: Informers): [keyof Informers, Informer<KubeObject>][] {
  return (Object.keys(informers) as (keyof Informers)[]).map((name) => [name, informers[name]]);
}
