// What the reconcilers share: clients, caches, keys, metrics and the cross-controller wake-ups.
import { PROPOSAL_PHASES } from '../api/proposal.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { IndexFunc, Informer } from '../runtime/informer.ts';
import type { KubeObject } from '../runtime/resource.ts';
import type { SigningKey } from '../integrity/signing.ts';
import type { ControllerConfig } from './config.ts';
import type { EventRecorder } from './events.ts';
import type { FreshObjects } from './fresh-objects.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import type { ChallengeSecrets, PublicKeyPublisher } from './keys.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { NamespaceGuard } from './namespace-guard.ts';
import type { PolicyState } from './policy-state.ts';
import type { SessionLedger } from './session-ledger.ts';

export const FIELD_MANAGER = 'm87-controller';

export interface Informers {
  proposals: Informer<KubeObject>;
  decisions: Informer<KubeObject>;
  approvals: Informer<KubeObject>;
  jobs: Informer<KubeObject>;
  profiles: Informer<KubeObject>;
  policies: Informer<KubeObject>;
  pods: Informer<KubeObject>;
  networkPolicies: Informer<KubeObject>;
}

export interface Shared {
  kc: KubeConfig;
  /** The clock (epoch ms) for decisions, rate limits and expiry. */
  now: () => number;
  config: ControllerConfig;
  log: Logger;
  metrics: ControllerMetrics;
  informers: Informers;
  ledger: SessionLedger;
  /** Our latest status writes, until the informers catch up (read-your-own-writes). */
  fresh: { proposals: FreshObjects; approvals: FreshObjects; jobs: FreshObjects };
  policy: PolicyState;
  signingKey: SigningKey;
  publicKeys: PublicKeyPublisher;
  challengeSecrets: ChallengeSecrets;
  events: EventRecorder;
  namespaces: NamespaceGuard;
  /** Per submitter: deciding and minting never interleave, so each decision sees every authorization. */
  submitterLocks: KeyedMutex;
  enqueue: {
    submitter(submitter: string): void;
    proposal(key: string): void;
    job(key: string): void;
  };
  /**
   * Resolves once the caches reflect every write made before this replica became leader (a fresh relist
   * of the informers the decisions depend on). Reconcilers that decide or mint await it first.
   */
  leaderBarrier(signal: AbortSignal): Promise<void>;
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

export const indexUndecidedBySubmitter: IndexFunc<KubeObject> = (obj) => {
  const s = submitterOf(obj);
  return s !== undefined && !statusDecided(obj) ? [s] : [];
};

export const indexUndecided: IndexFunc<KubeObject> = (obj) => (statusDecided(obj) ? [] : ['1']);

export const indexApprovalByProposal: IndexFunc<KubeObject> = (obj) => {
  const p = (obj.spec as { proposalName?: unknown } | undefined)?.proposalName;
  const ns = obj.metadata.namespace;
  return typeof p === 'string' && ns !== undefined ? [`${ns}/${p}`] : [];
};

/** Queue key of a submitter for the decisions controller (no "/" so it is a valid runtime key). */
export function submitterKey(submitter: string): string {
  return encodeURIComponent(submitter);
}

export function submitterFromKey(key: string): string {
  return decodeURIComponent(key);
}
