// The controller's informers (one per resource, shared by every reconciler) and the indexes they keep.
import type { KubeClient as KubeConfig } from '../runtime/kube-access.ts'; // a KubeAccess or a client-node KubeConfig
import type { Logger } from 'pino';
import { PROPOSAL_PHASES } from '../api/proposal.ts';
import { Informer, stripManagedFields, type IndexFunc } from '../runtime/informer.ts';
import type { KubeObject, ResourceType } from '../runtime/resource.ts';
import { MANAGED_SELECTOR, PUBLIC_KEY_SELECTOR } from './names.ts';
import { AGENT_PROFILES, APPROVALS, CONFIG_MAPS, DECISIONS, GOVERNANCE_POLICIES, JOBS, NETWORK_POLICIES, PODS, PROPOSALS, TOOLS } from './resources.ts';
import { ingestObject } from './parse.ts';
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

type EnvVar = { name?: unknown; value?: unknown };
type Container = { name?: unknown; image?: unknown; env?: unknown };
/** The one env entry the controller reads back: the Tool spec it handed a step container (receipt-check.ts declaredOutputs). */
const KEPT_ENV = 'M87_TOOL_SPEC';
const containerView = (cs: unknown): Container[] | undefined =>
  Array.isArray(cs)
    ? (cs as Container[]).map((c) => {
        const env = Array.isArray(c.env) ? (c.env as EnvVar[]).filter((e) => e.name === KEPT_ENV) : [];
        return { name: c.name, image: c.image, ...(env.length > 0 ? { env } : {}) };
      })
    : undefined;

/**
 * A job Pod as the job reconciler reads it: metadata (owner, the signed-envelope annotations), status, and
 * of the spec only each container's name and image (stepImageMismatch) and a step container's Tool spec
 * (M87_TOOL_SPEC: the outputs the receipt must list). The rest of the spec is what we created and never read again.
 */
export function leanPod(obj: KubeObject): KubeObject {
  const lean = leanObject(obj);
  const spec = lean.spec as { initContainers?: unknown; containers?: unknown } | undefined;
  if (spec === undefined) return lean;
  const initContainers = containerView(spec.initContainers);
  const containers = containerView(spec.containers);
  return { ...lean, spec: { ...(initContainers ? { initContainers } : {}), ...(containers ? { containers } : {}) } };
}

/** A NetworkPolicy as the cache needs it: only its metadata (its events map to the owning Job). */
export function metadataOnly(obj: KubeObject): KubeObject {
  const { apiVersion, kind, metadata } = leanObject(obj);
  return { ...(apiVersion !== undefined ? { apiVersion } : {}), ...(kind !== undefined ? { kind } : {}), metadata };
}

export function createInformers(kc: KubeConfig, log: Logger): Informers {
  const informer = (
    resource: ResourceType,
    extra: { labelSelector?: string; indexers?: Record<string, IndexFunc<KubeObject>>; transform?: (obj: KubeObject) => KubeObject } = {},
  ): Informer<KubeObject> => new Informer<KubeObject>({ kubeConfig: kc, resource, logger: log, transform: leanObject, ...extra });
  return {
    proposals: informer(PROPOSALS, {
      indexers: { [UNDECIDED_BY_SUBMITTER]: indexUndecidedBySubmitter, [UNDECIDED]: indexUndecided },
      transform: parsedAtIngest('Proposal'),
    }),
    decisions: informer(DECISIONS, { indexers: { [SUBMITTER_INDEX]: indexBySubmitter }, transform: parsedAtIngest('Decision') }),
    approvals: informer(APPROVALS, { indexers: { [BY_PROPOSAL]: indexApprovalByProposal }, transform: parsedAtIngest('Approval') }),
    jobs: informer(JOBS, { transform: parsedAtIngest('Job') }),
    profiles: informer(AGENT_PROFILES),
    policies: informer(GOVERNANCE_POLICIES),
    tools: informer(TOOLS),
    // Pods and NetworkPolicies: only the ones the controller created (label selector), and only what is read.
    pods: informer(PODS, { labelSelector: MANAGED_SELECTOR, transform: leanPod }),
    networkPolicies: informer(NETWORK_POLICIES, { labelSelector: MANAGED_SELECTOR, transform: metadataOnly }),
    publicKeys: informer(CONFIG_MAPS, { labelSelector: PUBLIC_KEY_SELECTOR }),
  };
}

/** Every informer with its name (for start-up and readiness). */
export function namedInformers(informers: Informers): [keyof Informers, Informer<KubeObject>][] {
  return (Object.keys(informers) as (keyof Informers)[]).map((name) => [name, informers[name]]);
}
