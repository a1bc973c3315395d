// The controller's informers (one per resource, shared by every reconciler) and the indexes they keep.
import type { KubeClient as KubeConfig } from '../runtime/kube-access.ts'; // a KubeAccess or a client-node KubeConfig
import type { Logger } from 'pino';
import { PROPOSAL_PHASES } from '../api/proposal.ts';
import { Informer, stripManagedFields, type IndexFunc } from '../runtime/informer.ts';
import type { KubeObject, ResourceType } from '../runtime/resource.ts';
import { MANAGED_SELECTOR, PUBLIC_KEY_SELECTOR } from './names.ts';
import { AGENT_PROFILES, APPROVALS, CONFIG_MAPS, DECISIONS, GOVERNANCE_POLICIES, JOBS, NETWORK_POLICIES, PODS, PROPOSALS, TOOLS } from './resources.ts';
import { jobPodView, type JobPodView } from './job-pod-view.ts';
import { ingestObject } from './parse.ts';
import { StringTable } from './string-table.ts';
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
  /** Job Pods as the controller reads them (job-pod-view.ts). */
  pods: Informer<JobPodView>;
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

// ---- what the caches keep (transforms at ingest) ----------------------------------------------------

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Without managedFields and kubectl's last-applied copy of the whole object: no reconciler reads them. */
export function leanObject(obj: KubeObject): KubeObject {
  const stripped = stripManagedFields(obj);
  const annotations = stripped.metadata.annotations;
  if (annotations?.[LAST_APPLIED] === undefined) return stripped;
  const { [LAST_APPLIED]: _dropped, ...rest } = annotations;
  return { ...stripped, metadata: { ...stripped.metadata, annotations: rest } };
}

/** Lean, with the spec parsed into its typed form once (parse.ts); the reconcilers read that form. */
function parsedAtIngest(kind: 'Proposal' | 'Decision' | 'Approval' | 'Job'): (obj: KubeObject) => KubeObject {
  return (obj) => ingestObject(kind, leanObject(obj));
}

/** A NetworkPolicy as the cache needs it: only its metadata (its events map to the owning Job). */
export function metadataOnly(obj: KubeObject): KubeObject {
  const { apiVersion, kind, metadata } = leanObject(obj);
  return { ...(apiVersion !== undefined ? { apiVersion } : {}), ...(kind !== undefined ? { kind } : {}), metadata };
}

/** The strings of every cached object, one copy each (string-table.ts). */
export const CACHE_STRINGS = new StringTable();

/** The transform, then its output's strings replaced by the shared copies. */
function interned<T extends KubeObject>(transform: (obj: KubeObject) => T): (obj: KubeObject) => T {
  return (obj) => CACHE_STRINGS.internAll(transform(obj));
}

/** What each informer's cache keeps of an object (its transform at ingest), by informer. */
export const CACHE_TRANSFORMS: { readonly [K in keyof Informers]: (obj: KubeObject) => CachedType<Informers[K]> } = {
  proposals: interned(parsedAtIngest('Proposal')),
  decisions: interned(parsedAtIngest('Decision')),
  approvals: interned(parsedAtIngest('Approval')),
  jobs: interned(parsedAtIngest('Job')),
  profiles: leanObject,
  policies: leanObject,
  tools: leanObject,
  pods: interned(jobPodView),
  networkPolicies: interned(metadataOnly),
  publicKeys: leanObject,
};

type CachedType<I> = I extends Informer<infer T> ? T : never;

export function createInformers(kc: KubeConfig, log: Logger): Informers {
  const informer = <T extends KubeObject>(
    resource: ResourceType,
    transform: (obj: KubeObject) => T,
    extra: { labelSelector?: string; indexers?: Record<string, IndexFunc<T>> } = {},
  ): Informer<T> => new Informer<T>({ kubeConfig: kc, resource, logger: log, transform, ...extra });
  const t = CACHE_TRANSFORMS;
  return {
    proposals: informer(PROPOSALS, t.proposals, { indexers: { [UNDECIDED_BY_SUBMITTER]: indexUndecidedBySubmitter, [UNDECIDED]: indexUndecided } }),
    decisions: informer(DECISIONS, t.decisions, { indexers: { [SUBMITTER_INDEX]: indexBySubmitter } }),
    approvals: informer(APPROVALS, t.approvals, { indexers: { [BY_PROPOSAL]: indexApprovalByProposal } }),
    jobs: informer(JOBS, t.jobs),
    profiles: informer(AGENT_PROFILES, t.profiles),
    policies: informer(GOVERNANCE_POLICIES, t.policies),
    tools: informer(TOOLS, t.tools),
    // Pods and NetworkPolicies: only the ones the controller created (label selector), and only what is read.
    pods: informer(PODS, t.pods, { labelSelector: MANAGED_SELECTOR }),
    networkPolicies: informer(NETWORK_POLICIES, t.networkPolicies, { labelSelector: MANAGED_SELECTOR }),
    publicKeys: informer(CONFIG_MAPS, t.publicKeys, { labelSelector: PUBLIC_KEY_SELECTOR }),
  };
}

/** Every informer with its name (for start-up and readiness). */
export function namedInformers(informers: Informers): [keyof Informers, Informer<KubeObject>][] {
  return (Object.keys(informers) as (keyof Informers)[]).map((name) => [name, asKubeInformer(informers[name])]);
}

/**
 * An informer whose cache holds a view type (JobPodView), for code that only needs KubeObjects (sync, staleness,
 * metadata). Sound as the runtime's own watch() cast: every cached object is a KubeObject, and indexers are
 * fixed at construction.
 */
export function asKubeInformer(informer: Informer<KubeObject> | Informer<JobPodView>): Informer<KubeObject> {
  return informer as unknown as Informer<KubeObject>;
}
