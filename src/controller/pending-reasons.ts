// Why a proposal is not decided yet (no policy, unreadable, throttled, …), handed from the decisions
// controller (which finds out) to the proposals controller (the one writer of Proposal.status). In memory:
// after a restart the decider finds the same reasons again. Bound to the proposal's UID, so a reason found
// for an earlier incarnation of a name never shows on a new one.
import type { ProposalKey } from './mint-requests.ts';

export interface PendingReason {
  uid: string;
  phase: 'Pending' | 'Throttled';
  reason: string;
  message: string;
  /** The proposal hash, when the proposal could be read. */
  hash?: string | undefined;
}

export class PendingReasons {
  readonly #byKey = new Map<string, PendingReason>();

  /** Records the reason; true when it differs from the one recorded before (the status must change). */
  set(key: ProposalKey, reason: PendingReason): boolean {
    const k = `${key.namespace}/${key.name}`;
    const before = this.#byKey.get(k);
    this.#byKey.set(k, reason);
    return before === undefined || JSON.stringify(before) !== JSON.stringify(reason);
  }

  /** The reason recorded for this incarnation, if any. */
  get(key: ProposalKey, uid: string): PendingReason | undefined {
    const r = this.#byKey.get(`${key.namespace}/${key.name}`);
    return r?.uid === uid ? r : undefined;
  }

  /** Forgets the proposal (decided or deleted). */
  delete(key: ProposalKey): void {
    this.#byKey.delete(`${key.namespace}/${key.name}`);
  }

  size(): number {
    return this.#byKey.size;
  }
}
