// Jobs the proposals controller found authorized: approved REQUIRE_HUMAN ones are handed to the decisions
// controller, which creates them in the submitter's queue: a submitter's decisions and the Jobs that add to
// their session history are then written in one order by one worker, so the next decision always sees every
// authorization before it (no lock shared between controllers). An ALLOW's Job is created directly
// (Decider.createJob): its effects are in the history from its Decision on.
import type { KubeObject } from '../runtime/resource.ts';

export interface ProposalKey {
  namespace: string;
  name: string;
}

export interface MintRequest {
  proposal: ProposalKey & { uid: string; hash: string };
  /** The signed Job, built and checked by the proposals controller. */
  job: KubeObject;
  /** REQUIRE_HUMAN: when the decision was made (epoch ms), for the approval-wait metric. */
  approvalRequestedAt?: number | undefined;
}

export class MintRequests {
  /** submitter → proposal key → request (the newest per proposal wins). */
  readonly #bySubmitter = new Map<string, Map<string, MintRequest>>();

  add(submitter: string, request: MintRequest): void {
    let m = this.#bySubmitter.get(submitter);
    if (!m) this.#bySubmitter.set(submitter, (m = new Map<string, MintRequest>()));
    m.set(`${request.proposal.namespace}/${request.proposal.name}`, request);
  }

  /** The submitter's requests, oldest first; they stay until done() or replaced. */
  of(submitter: string): MintRequest[] {
    return [...(this.#bySubmitter.get(submitter)?.values() ?? [])];
  }

  done(submitter: string, request: MintRequest): void {
    const m = this.#bySubmitter.get(submitter);
    const k = `${request.proposal.namespace}/${request.proposal.name}`;
    if (m?.get(k) === request) m.delete(k);
    if (m?.size === 0) this.#bySubmitter.delete(submitter);
  }

  size(): number {
    let n = 0;
    for (const m of this.#bySubmitter.values()) n += m.size;
    return n;
  }
}
