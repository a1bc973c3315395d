// What the page shows about one proposal, built from the objects the console's watches hold (the proposal,
// its Decision, its Job and the Approvals naming it). Pure: the server sends these as JSON, and the page
// only renders them (as text, never as HTML).
import { proposalState, type ObjectOf, type ProposalState } from '../client/index.ts';

type Proposal = ObjectOf<'Proposal'>;
type Decision = ObjectOf<'Decision'>;
type Job = ObjectOf<'Job'>;
type Approval = ObjectOf<'Approval'>;

/** Inline artifact content shown in the page at most (a patch is usually far smaller). */
export const MAX_INLINE_CONTENT = 64 * 1024;

export interface OutputView {
  type: string;
  path: string | undefined;
  source: string | undefined;
  destination: string | undefined;
  target: string | undefined;
  content: string | undefined;
  truncated: boolean;
}

export interface ApprovalView {
  name: string;
  approver: string;
  verdict: string;
  comment: string | undefined;
  state: string | undefined;
  reason: string | undefined;
  message: string | undefined;
  createdAt: string | undefined;
}

export interface ProposalView extends ProposalState {
  key: string;
  createdAt: string | undefined;
  summary: string;
  intent: Proposal['spec']['intent'];
  effects: string[];
  riskScore: number | undefined;
  steps: { tool: string; args: Record<string, unknown> }[];
  /** What the proposal declares it produces or touches (a diff's content is the patch to review). */
  outputs: OutputView[];
  /** The effective envelope the Job will be bound to, and its hash (DEH). */
  envelope: Decision['spec']['effectiveEnvelope'];
  /** Reached the decision's expiresAt (by the console's clock); verdicts are refused from then on. */
  expired: boolean;
  /** Awaiting a human verdict. */
  pending: boolean;
  approvals: ApprovalView[];
}

/** Timestamps as the API server wrote them (the metadata type also admits a Date). */
function stamp(value: string | Date | undefined): string | undefined {
  return value instanceof Date ? value.toISOString() : value;
}

export function proposalKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function outputView(a: Proposal['spec']['artifacts'][number]): OutputView {
  const content = a.content;
  const truncated = content !== undefined && content.length > MAX_INLINE_CONTENT;
  return {
    type: a.type,
    path: a.path,
    source: a.source,
    destination: a.destination,
    target: a.target,
    content: truncated ? content.slice(0, MAX_INLINE_CONTENT) : content,
    truncated,
  };
}

export function isExpired(decision: Decision | undefined, now: number): boolean {
  const at = decision?.spec.expiresAt === undefined ? Number.NaN : Date.parse(decision.spec.expiresAt);
  return decision?.spec.outcome === 'REQUIRE_HUMAN' && (!Number.isFinite(at) || now > at);
}

export function proposalView(proposal: Proposal, decision: Decision | undefined, job: Job | undefined, approvals: readonly Approval[], now: number): ProposalView {
  const state = proposalState(proposal, decision, job);
  const uid = proposal.metadata.uid;
  // Only this incarnation's Decision describes the proposal (proposalState applies the same rule).
  const d = decision !== undefined && decision.spec.proposalRef.uid === uid ? decision : undefined;
  const spec = proposal.spec;
  return {
    ...state,
    key: proposalKey(state.namespace, state.name),
    createdAt: stamp(proposal.metadata.creationTimestamp),
    summary: spec.summary,
    intent: spec.intent,
    effects: spec.effects,
    riskScore: spec.riskScore,
    steps: spec.steps.map((s) => ({ tool: s.tool, args: s.args })),
    outputs: spec.artifacts.map(outputView),
    envelope: d?.spec.effectiveEnvelope,
    expired: isExpired(d, now),
    pending: state.phase === 'AwaitingApproval',
    approvals: approvals
      .filter((a) => a.spec.proposalUID === uid)
      .map((a) => ({
        name: a.metadata.name ?? '',
        approver: a.spec.approver,
        verdict: a.spec.verdict,
        comment: a.spec.comment,
        state: a.status?.state,
        reason: a.status?.reason,
        message: a.status?.message,
        createdAt: stamp(a.metadata.creationTimestamp),
      }))
      .sort((x, y) => (x.createdAt ?? '').localeCompare(y.createdAt ?? '')),
  };
}
