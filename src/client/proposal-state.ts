// Where a proposal stands, in one answer an agent (or a person) can act on: phase, the decision with every
// reason, the approval state, and — once it ran — the job's result and its verified receipt.
import type { ObjectOf } from './resources.ts';
import type { ProposalPhase } from '../api/proposal.ts';
import type { Receipt } from '../api/receipt.ts';
import type { M87Client } from './client.ts';
import { isClientError, M87ClientError } from './errors.ts';

type Proposal = ObjectOf<'Proposal'>;
type Decision = ObjectOf<'Decision'>;
type Job = ObjectOf<'Job'>;

/** Phases after which nothing more happens to a proposal. */
export const FINAL_PHASES: ReadonlySet<ProposalPhase> = new Set(['Denied', 'NeedsEvidence', 'Succeeded', 'Failed', 'Rejected', 'Expired']);
/** Phases in which the decision is known (a waiter for "decided" stops here). */
export const DECIDED_PHASES: ReadonlySet<ProposalPhase> = new Set([...FINAL_PHASES, 'AwaitingApproval', 'Approved', 'Running']);

export type ApprovalStateName = 'not-required' | 'pending' | 'approved' | 'rejected' | 'expired' | 'unknown';

export interface ProposalState {
  namespace: string;
  name: string;
  uid: string | undefined;
  submittedBy: string;
  agent: string;
  phase: ProposalPhase | 'Submitted';
  message: string | undefined;
  proposalHash: string | undefined;
  /** Nothing more will happen (a final phase). */
  final: boolean;
  decision:
    | {
        outcome: Decision['spec']['outcome'];
        reasons: Decision['spec']['reasons'];
        allowedEffects: string[];
        requiredApprovals: number;
        challenge: string | undefined;
        expiresAt: string | undefined;
        envelopeHash: string | undefined;
        decidedAt: string;
      }
    | undefined;
  approval: { state: ApprovalStateName; required: number; accepted: number };
  job:
    | {
        name: string;
        phase: string | undefined;
        reason: string | undefined;
        message: string | undefined;
        startTime: string | undefined;
        completionTime: string | undefined;
        envelopeHash: string;
        /** The runner's receipt as the controller verified it: per-step exit codes and output hashes, artifacts with digests. */
        receipt: Receipt | undefined;
      }
    | undefined;
}

function approvalState(phase: ProposalPhase | undefined, decision: Decision | undefined, accepted: number): ApprovalStateName {
  if (decision === undefined) return 'unknown';
  if (decision.spec.outcome !== 'REQUIRE_HUMAN') return 'not-required';
  switch (phase) {
    case 'AwaitingApproval':
      return 'pending';
    case 'Rejected':
      return 'rejected';
    case 'Expired':
      return 'expired';
    case 'Approved':
    case 'Running':
    case 'Succeeded':
    case 'Failed':
      return 'approved';
    case 'Pending':
    case 'Throttled':
    case 'Denied':
    case 'NeedsEvidence':
    case undefined:
      return accepted > 0 ? 'approved' : 'unknown';
  }
}

/** Combines the three objects (any may be missing) into one state. */
export function proposalState(proposal: Proposal, decision: Decision | undefined, job: Job | undefined): ProposalState {
  // A Decision or Job of an earlier incarnation of the name does not describe this proposal.
  const uid = proposal.metadata.uid;
  const d = decision !== undefined && decision.spec.proposalRef.uid === uid ? decision : undefined;
  const j = job !== undefined && job.spec.proposalRef.uid === uid ? job : undefined;
  const phase = proposal.status?.phase;
  const accepted = proposal.status?.approvalRefs?.length ?? 0;
  return {
    namespace: proposal.metadata.namespace ?? '',
    name: proposal.metadata.name ?? '',
    uid,
    submittedBy: proposal.spec.submittedBy,
    agent: proposal.spec.agent,
    phase: phase ?? 'Submitted',
    message: proposal.status?.message,
    proposalHash: proposal.status?.proposalHash,
    final: phase !== undefined && FINAL_PHASES.has(phase),
    decision:
      d === undefined
        ? undefined
        : {
            outcome: d.spec.outcome,
            reasons: d.spec.reasons,
            allowedEffects: d.spec.allowedEffects,
            requiredApprovals: d.spec.requiredApprovals.count,
            challenge: d.spec.challenge?.prompt,
            expiresAt: d.spec.expiresAt,
            envelopeHash: d.spec.envelopeHash,
            decidedAt: d.spec.decidedAt,
          },
    approval: { state: approvalState(phase, d, accepted), required: d?.spec.requiredApprovals.count ?? 0, accepted },
    job:
      j === undefined
        ? undefined
        : {
            name: j.metadata.name ?? '',
            phase: j.status?.phase,
            reason: j.status?.reason,
            message: j.status?.message,
            startTime: j.status?.startTime,
            completionTime: j.status?.completionTime,
            envelopeHash: j.spec.envelopeHash,
            receipt: j.status?.receipt,
          },
  };
}

/** Reads the proposal, its Decision and its Job (same name) and combines them. NotFound when the proposal is missing. */
export async function readProposalState(client: M87Client, namespace: string, name: string, opts: { signal?: AbortSignal } = {}): Promise<ProposalState> {
  const ref = { namespace, name };
  const proposal = await client.get('Proposal', ref, opts);
  const [decision, job] = await Promise.all([client.find('Decision', ref, opts), client.find('Job', ref, opts)]);
  return proposalState(proposal, decision, job);
}

export interface WaitOptions {
  /** 'decision': stop once decided (including awaiting a human); 'final' (default): stop in a final phase. */
  until?: 'decision' | 'final';
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with every new phase seen (not repeated for the same phase), and awaited. */
  onProgress?: (state: ProposalState) => void | Promise<void>;
}

/**
 * Waits on a watch of the proposal (its status carries the phase the controller sets from the Decision and
 * the Job) until the wanted point or the timeout, then returns the state read fresh. Never throws on timeout:
 * the state says where it stands (`timedOut`).
 */
export async function waitForProposal(client: M87Client, namespace: string, name: string, opts: WaitOptions): Promise<ProposalState & { timedOut: boolean }> {
  const wanted = opts.until === 'decision' ? DECIDED_PHASES : FINAL_PHASES;
  const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(opts.timeoutMs)));
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let lastPhase: string | undefined;
  const reached = (state: ProposalState): boolean => state.phase !== 'Submitted' && wanted.has(state.phase);
  const report = async (state: ProposalState): Promise<void> => {
    if (state.phase !== lastPhase) {
      lastPhase = state.phase;
      await opts.onProgress?.(state);
    }
  };
  for (;;) {
    // The list gives the proposal and the resourceVersion to watch from in one read, so no change between
    // reading and watching is missed.
    const { items, resourceVersion } = await client.list('Proposal', { namespace, fieldSelector: `metadata.name=${name}` });
    const proposal = items[0];
    if (proposal === undefined) throw new M87ClientError('NotFound', `Proposal ${namespace}/${name}: not found`);
    const ref = { namespace, name };
    const [decision, job] = await Promise.all([client.find('Decision', ref), client.find('Job', ref)]);
    const state = proposalState(proposal, decision, job);
    await report(state);
    if (reached(state)) return { ...state, timedOut: false };
    if (signal.aborted) return { ...state, timedOut: true };
    try {
      for await (const event of client.watch('Proposal', { namespace, name, resourceVersion, signal, timeoutSeconds: Math.min(300, Math.ceil(opts.timeoutMs / 1000)) })) {
        if (event.type === 'DELETED') break;
        if (event.type === 'BOOKMARK') continue;
        const phase = event.object.status?.phase;
        if (phase !== undefined && phase !== lastPhase) break; // read the Decision and Job with it
      }
    } catch (err) {
      if (!isClientError(err, 'Expired')) throw err;
    }
  }
}
