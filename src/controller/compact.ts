// What the caches keep of a Decision, and of a finished tree's Proposal and Job (issue 16: 10,000 retained
// trees, nearly all finished, within the controller's memory budget). The informers' transforms
// (informers.ts) parse each object once (parse.ts) and then keep this compact form instead of the object:
//
// - a Decision, always: everything but spec.effectiveEnvelope (spec.envelopeHash stays). The envelope is read
//   by one thing only, minting a Job; the proposals controller takes it from the ALLOW Decision this process
//   just wrote (SessionLedger.fullDecision) or GETs the live Decision (an approved REQUIRE_HUMAN's, or after a
//   restart) and checks it is the same one — never from the cache (#wholeDecision in proposal-reconciler.ts);
// - a Job whose result is recorded (status.phase Succeeded or Failed: final, the job reconciler never acts
//   on it again): its metadata, spec.proposalRef, decisionRef, envelopeHash and the envelope's effects (the
//   session ledger's history), and of its status phase, reason, message and the times; not the envelope,
//   signature, receipt or conditions. The audit record GETs the live Job. An unfinished Job stays whole: the
//   job reconciler builds its Pod from the envelope and signature and checks both at each reconcile, and
//   unfinished Jobs are only those waiting for or running a Pod (a few per second of arrivals), so taking
//   the envelope out would cost a GET per reconcile to save little;
// - a finished Proposal (status.phase in FINISHED_PHASES: nothing more happens to its tree): its metadata,
//   spec.submittedBy, agent and summary, the proposal hash (computed from the spec it arrived with), and its
//   status without the conditions' messages. The proposals controller does not derive a finished proposal's
//   status again (its status is final); it only judges late Approvals and records delivered notifications,
//   writing from a live read (reconcileFinished in proposal-reconciler.ts).
//
// Every compact form keeps of metadata only what identifies the object and its lifetime (name, namespace,
// uid, resourceVersion, generation, creation/deletion time, finalizers): the labels, annotations and owner
// references of a Decision, finished Job or finished Proposal are read by nothing in the controller (a tree's
// objects are found by name and checked by the uids in their specs), and were a third of such an object.
//
// A compact object is known by identity (a WeakMap of the objects this module made, as parse.ts remembers
// parses): a field an object carries can never make it pass for one. Its types leave out what was dropped,
// so a reader reaching for a dropped field does not compile; the parse functions (parse.ts) refuse compact
// objects, so code written for full objects fails closed on one instead of reading absence as an answer.
// A relist delivers full objects again: the transform compacts them again. A tree that is no longer
// finished (its status changed back) arrives as a full object and is cached full.
import type { DecisionSpecView } from '../api/decision.ts';
import type { Decision, Job, Proposal } from '../api/kinds.ts';
import { isTerminalJobPhase, type JobStatus, type TerminalJobPhase } from '../api/job.ts';
import type { ProposalStatus } from '../api/proposal.ts';
import type { KubeObject, ObjectMeta } from '../runtime/resource.ts';
import { FINISHED_PHASES } from './retention.ts';

/** Type of a dropped field: nothing reads it as what it was (a DecisionView is no Decision to buildJob). */
declare const _NOT_CACHED: unique symbol;

/** What a compact object keeps of metadata (labels, annotations and owner references are not cached). */
export type CompactMeta = Pick<ObjectMeta, 'name' | 'namespace' | 'uid' | 'resourceVersion' | 'generation' | 'creationTimestamp' | 'deletionTimestamp' | 'finalizers'> & {
  readonly labels?: never;
  readonly annotations?: never;
  readonly ownerReferences?: never;
};

const KEPT_META = ['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'finalizers'] as const;

/** The identity and lifetime fields of metadata (CompactMeta). */
export function compactMeta(meta: ObjectMeta): CompactMeta {
  const out: Record<string, unknown> = {};
  for (const k of KEPT_META) if (meta[k] !== undefined) out[k] = meta[k];
  return out;
}

/** A cached Decision: all of it but spec.effectiveEnvelope, with compact metadata. */
export interface DecisionView extends KubeObject {
  metadata: CompactMeta;
  spec: DecisionSpecView & { readonly effectiveEnvelope?: typeof _NOT_CACHED };
}

/** A condition as a compact object keeps it (the message is dropped). */
export interface CompactCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly lastTransitionTime?: string;
  readonly observedGeneration?: number;
}

export interface FinishedJobSpec {
  readonly proposalRef: Job['spec']['proposalRef'];
  readonly decisionRef: Job['spec']['decisionRef'];
  readonly envelopeHash: string;
  /** spec.envelope.effects: what the job was authorized to do (the session history counts them). */
  readonly effects: readonly string[];
}

export interface FinishedJobStatus {
  readonly phase: TerminalJobPhase;
  readonly reason?: string;
  readonly message?: string;
  readonly startTime?: string;
  readonly completionTime?: string;
  readonly observedGeneration?: number;
}

/** A Job whose result is recorded, as the cache keeps it. */
export interface FinishedJob extends KubeObject {
  metadata: CompactMeta;
  spec: FinishedJobSpec;
  status: FinishedJobStatus;
}

export interface FinishedProposalSpec {
  readonly submittedBy: string;
  readonly agent: string;
  readonly summary: string;
}

export type FinishedProposalStatus = Omit<ProposalStatus, 'conditions'> & { readonly conditions?: readonly CompactCondition[] };

/** A finished Proposal, as the cache keeps it. */
export interface FinishedProposal extends KubeObject {
  metadata: CompactMeta;
  spec: FinishedProposalSpec;
  status: FinishedProposalStatus;
}

type Compacted = { kind: 'Decision' } | { kind: 'FinishedJob' } | { kind: 'FinishedProposal'; hash: string };

const compacted = new WeakMap<object, Compacted>();
/** One shared mark per kind that carries nothing of its own (a finished Proposal's carries its hash). */
const DECISION_MARK: Compacted = Object.freeze({ kind: 'Decision' });
const FINISHED_JOB_MARK: Compacted = Object.freeze({ kind: 'FinishedJob' });

/** Whether the object is a compact form made here (then parse.ts's parse functions refuse it). */
export function isCompact(obj: object): boolean {
  return compacted.has(obj);
}

function head(obj: KubeObject): Pick<KubeObject, 'apiVersion' | 'kind'> {
  return { ...(obj.apiVersion !== undefined ? { apiVersion: obj.apiVersion } : {}), ...(obj.kind !== undefined ? { kind: obj.kind } : {}) };
}

function compactConditions(conditions: unknown): CompactCondition[] | undefined {
  if (!Array.isArray(conditions)) return undefined;
  return (conditions as Record<string, unknown>[]).map((c) => {
    const { message: _message, ...rest } = c;
    return rest as unknown as CompactCondition;
  });
}

/** The cached form of a Decision whose spec parsed (`spec` is the parsed spec). */
export function compactDecision(obj: KubeObject, spec: Decision['spec']): DecisionView {
  const { effectiveEnvelope: _envelope, ...kept } = spec;
  const out: DecisionView = { ...obj, metadata: compactMeta(obj.metadata), spec: kept };
  compacted.set(out, DECISION_MARK);
  return out;
}

/** The cached form of a Job whose spec parsed, or undefined while its result is not recorded (kept whole). */
export function compactFinishedJob(obj: KubeObject, spec: Job['spec']): FinishedJob | undefined {
  const s = obj.status as JobStatus | undefined;
  if (!isTerminalJobPhase(s?.phase)) return undefined;
  const status: FinishedJobStatus = {
    phase: s.phase,
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
    ...(s.message !== undefined ? { message: s.message } : {}),
    ...(s.startTime !== undefined ? { startTime: s.startTime } : {}),
    ...(s.completionTime !== undefined ? { completionTime: s.completionTime } : {}),
    ...(s.observedGeneration !== undefined ? { observedGeneration: s.observedGeneration } : {}),
  };
  const out: FinishedJob = {
    ...head(obj),
    metadata: compactMeta(obj.metadata),
    spec: { proposalRef: spec.proposalRef, decisionRef: spec.decisionRef, envelopeHash: spec.envelopeHash, effects: spec.envelope.effects },
    status,
  };
  compacted.set(out, FINISHED_JOB_MARK);
  return out;
}

/**
 * The cached form of a finished Proposal whose spec parsed (`hash`: the proposal hash of that spec), or
 * undefined while it is not finished (kept whole).
 */
export function compactFinishedProposal(obj: KubeObject, spec: Proposal['spec'], hash: string): FinishedProposal | undefined {
  if (!proposalFinished(obj)) return undefined;
  const { conditions, ...rest } = obj.status as ProposalStatus;
  const kept = compactConditions(conditions);
  const out: FinishedProposal = {
    ...head(obj),
    metadata: compactMeta(obj.metadata),
    spec: { submittedBy: spec.submittedBy, agent: spec.agent, summary: spec.summary },
    status: kept === undefined ? rest : { ...rest, conditions: kept },
  };
  compacted.set(out, { kind: 'FinishedProposal', hash });
  return out;
}

/** A compact Decision (made by compactDecision), else undefined. */
export function asDecisionView(obj: KubeObject): DecisionView | undefined {
  return compacted.get(obj)?.kind === 'Decision' ? (obj as DecisionView) : undefined;
}

/** A compact finished Job, else undefined. */
export function asFinishedJob(obj: KubeObject): FinishedJob | undefined {
  return compacted.get(obj)?.kind === 'FinishedJob' ? (obj as FinishedJob) : undefined;
}

/** A compact finished Proposal and its proposal hash, else undefined. */
export function asFinishedProposal(obj: KubeObject): { proposal: FinishedProposal; hash: string } | undefined {
  const c = compacted.get(obj);
  return c?.kind === 'FinishedProposal' ? { proposal: obj as FinishedProposal, hash: c.hash } : undefined;
}

/** Whether a Proposal's status says its tree is finished (whatever form the object is in). */
export function proposalFinished(obj: KubeObject): boolean {
  const phase = (obj.status as { phase?: unknown } | undefined)?.phase;
  return typeof phase === 'string' && FINISHED_PHASES.has(phase);
}
