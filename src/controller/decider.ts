// Proposal → Decision. The queue key is the submitter, so one submitter's proposals are decided one at a
// time and in creation order (the session topology of each depends on the decisions before it), while
// different submitters proceed in parallel. Each reconcile decides the earliest undecided proposal of the
// submitter and, when more are waiting, queues the submitter again (behind other submitters: fairness).
//
// Never decides while the policy is missing or invalid (the proposals say why, and the policy informer
// wakes them up), never when over the rate limit (phase Throttled, requeued after retryAfter), and an
// object that does not parse gets a condition and is skipped, not retried in a loop.
import { API_VERSION, LABELS } from '../api/group.ts';
import type { ProposalStatus } from '../api/proposal.ts';
import { decisionSpecFrom } from '../governance/decision-spec.ts';
import { evaluate } from '../governance/evaluate.ts';
import { checkRate } from '../governance/rate.ts';
import type { EvaluationInput } from '../governance/types.ts';
import type { ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { objectKey } from '../runtime/resource.ts';
import { createIfAbsent, patchStatus, setCondition } from '../runtime/status.ts';
import { toolManifestHash } from '../tool-catalogue/manifest.ts';
import { labelValue, MANAGED_BY } from './names.ts';
import { controllerRef } from './owner.ts';
import { createdAt, parseProposal, profileSpec, type ParsedProposal } from './parse.ts';
import { CONDITION } from './proposal-status.ts';
import { DECISIONS, PROPOSALS } from './resources.ts';
import { decisionFacts } from './session-ledger.ts';
import { FIELD_MANAGER, submitterFromKey, UNDECIDED_BY_SUBMITTER, type Shared } from './shared.ts';

interface Candidate {
  obj: KubeObject;
  namespace: string;
  name: string;
  uid: string;
  createdAt: number;
}

function byCreation(a: Candidate, b: Candidate): number {
  const ta = Number.isNaN(a.createdAt) ? Infinity : a.createdAt;
  const tb = Number.isNaN(b.createdAt) ? Infinity : b.createdAt;
  if (ta !== tb) return ta - tb;
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** A "not decided (yet)" status: phase Pending/Throttled and Decided=False with the reason. */
interface PendingReason {
  phase: 'Pending' | 'Throttled';
  reason: string;
  message: string;
}

export class Decider {
  readonly #s: Shared;

  constructor(shared: Shared) {
    this.#s = shared;
  }

  /** The submitter's proposals that have no Decision, earliest first. */
  undecided(submitter: string): Candidate[] {
    const out: Candidate[] = [];
    for (const cached of this.#s.informers.proposals.byIndex(UNDECIDED_BY_SUBMITTER, submitter)) {
      const obj = this.#s.fresh.proposals.read(cached) ?? cached;
      const { namespace, name, uid } = obj.metadata;
      if (namespace === undefined || name === undefined || uid === undefined) continue;
      if (obj.metadata.deletionTimestamp !== undefined) continue;
      if (this.#s.ledger.isDecided(namespace, name, uid)) continue;
      out.push({ obj, namespace, name, uid, createdAt: createdAt(obj) });
    }
    return out.sort(byCreation);
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const submitter = submitterFromKey(key);
    await this.#s.leaderBarrier(ctx.signal);
    const candidates = this.undecided(submitter);
    if (candidates.length === 0) return;

    const policy = this.#s.policy.current();
    if (policy.state !== 'valid') {
      const reason = policy.state === 'missing' ? 'PolicyMissing' : 'PolicyInvalid';
      for (const c of candidates) await this.#markPending(c, { phase: 'Pending', reason, message: policy.message }, ctx);
      // The policy informer re-queues every waiting submitter when the policy changes.
      return;
    }

    // Skip (after marking) proposals that cannot be parsed: they must not block the submitter's queue.
    let first: { c: Candidate; parsed: ParsedProposal } | undefined;
    for (const c of candidates) {
      const parsed = parseProposal(c.obj);
      if (parsed.ok) {
        first = { c, parsed: parsed.value };
        break;
      }
      await this.#markPending(c, { phase: 'Pending', reason: 'InvalidProposal', message: `The Proposal cannot be read: ${parsed.error}` }, ctx, undefined);
    }
    if (!first) return;
    const { c, parsed } = first;
    const log = this.#s.log.child({
      controller: 'decisions',
      namespace: c.namespace,
      name: c.name,
      reconcileID: ctx.reconcileID,
      proposalHash: parsed.hash,
    });

    let challengeSecret: Buffer;
    try {
      challengeSecret = await this.#s.challengeSecrets.get(policy.input.spec.approvals.challengeSecretRef, ctx.fence);
    } catch (err) {
      await this.#markPending(
        c,
        { phase: 'Pending', reason: 'ChallengeSecretUnavailable', message: `The challenge secret cannot be read: ${(err as Error).message}` },
        ctx,
        parsed.hash,
      );
      throw err;
    }

    const result = await this.#s.submitterLocks.run(submitter, async (): Promise<ReconcileResult | 'decided'> => {
      const now = this.#s.now();
      const rate = checkRate(this.#s.ledger.recentDecisionTimes(submitter), now, policy.input.spec);
      if (!rate.allowed) {
        this.#s.metrics.throttled();
        await this.#markPending(
          c,
          {
            phase: 'Throttled',
            reason: 'RateLimited',
            message: `${submitter} reached ${policy.input.spec.rateLimit.proposalsPerMinute} decided proposals per minute; the proposal waits.`,
          },
          ctx,
          parsed.hash,
        );
        return { requeueAfterMs: rate.retryAfterMs };
      }
      const spec = parsed.proposal.spec;
      const input: EvaluationInput = {
        proposal: { namespace: c.namespace, name: c.name, uid: c.uid, spec, hash: parsed.hash, createdAt: c.createdAt },
        profile: profileSpec(this.#s.informers.profiles.getByName(undefined, spec.agent)),
        policy: policy.input,
        history: this.#s.ledger.history(submitter),
        now,
        challengeSecret,
        runnerImage: this.#s.config.runnerImage,
        toolManifestHash: toolManifestHash(),
      };
      let evaluation;
      try {
        evaluation = evaluate(input);
      } catch (err) {
        // The engine refuses to decide with this input (never ALLOW); say so and wait for a change.
        await this.#markPending(c, { phase: 'Pending', reason: 'EvaluationFailed', message: (err as Error).message }, ctx, parsed.hash);
        log.error({ err }, 'The engine could not evaluate the proposal');
        return;
      }
      const decision = {
        apiVersion: API_VERSION,
        kind: 'Decision',
        metadata: {
          name: c.name,
          namespace: c.namespace,
          labels: { [LABELS.proposal]: labelValue(c.name), [LABELS.managedBy]: MANAGED_BY },
          ownerReferences: [controllerRef('Proposal', { name: c.name, uid: c.uid })],
        },
        spec: decisionSpecFrom(input, evaluation),
      };
      const { object, created } = await createIfAbsent<KubeObject>(this.#s.kc, DECISIONS, decision, {
        fence: ctx.fence,
        fieldManager: FIELD_MANAGER,
        signal: ctx.signal,
      });
      const facts = decisionFacts(object);
      if (!facts || facts.proposalUID !== c.uid) {
        // A Decision of an earlier Proposal with this name still exists (the garbage collector removes it).
        log.info({ existing: object.metadata.uid }, 'A Decision of an earlier incarnation of the proposal exists; waiting for its removal');
        return { requeueAfterMs: 2000 };
      }
      this.#s.ledger.recordDecision(object);
      this.#s.enqueue.proposal(objectKey(object));
      if (created) {
        const outcome = evaluation.outcome;
        const hits = this.#s.metrics.hitsIn(evaluation.reasons);
        this.#s.metrics.decided({
          outcome,
          reasons: evaluation.reasons,
          durationSeconds: (now - c.createdAt) / 1000,
          ...hits,
        });
        log.info(
          { decision: outcome, reasons: evaluation.reasons.filter((r) => r.outcome === outcome).map((r) => r.code), envelopeHash: evaluation.envelopeHash },
          'Decided proposal',
        );
        this.#s.events.record(
          { apiVersion: API_VERSION, kind: 'Proposal', namespace: c.namespace, name: c.name, uid: c.uid },
          outcome === 'ALLOW' ? 'Normal' : 'Warning',
          `Decided${outcome === 'ALLOW' ? 'Allow' : outcome === 'DENY' ? 'Deny' : outcome === 'REQUIRE_HUMAN' ? 'RequireHuman' : 'NeedMoreEvidence'}`,
          `Decision ${outcome}: ${evaluation.reasons
            .filter((r) => r.outcome === outcome)
            .map((r) => r.code)
            .join(', ')}`,
        );
      } else {
        log.info({ decision: facts.outcome }, 'Decision already recorded');
      }
      return 'decided';
    });
    if (result !== 'decided') return result;
    // More waiting: queue the submitter again; the queue hands it out after the submitters already waiting.
    if (candidates.length > 1) this.#s.enqueue.submitter(submitter);
  }

  /** Records why a proposal is not decided (once: an unchanged status is not written again). */
  async #markPending(c: Candidate, why: PendingReason, ctx: ReconcileContext, hash?: string): Promise<void> {
    const current = c.obj.status as ProposalStatus | undefined;
    const cond = current?.conditions?.find((x) => x.type === CONDITION.decided);
    if (current?.phase === why.phase && cond?.reason === why.reason && cond.message === why.message && (hash === undefined || current.proposalHash === hash)) {
      return;
    }
    const generation = typeof c.obj.metadata.generation === 'number' ? c.obj.metadata.generation : undefined;
    const result = await patchStatus<KubeObject>(
      this.#s.kc,
      PROPOSALS,
      { namespace: c.namespace, name: c.name },
      (draft) => {
        const status = { ...((draft.status as ProposalStatus | undefined) ?? {}) };
        // A decision recorded meanwhile (by us, a moment ago) wins over "pending".
        if (status.decisionRef !== undefined) return draft;
        status.phase = why.phase;
        status.message = why.message.slice(0, 4096);
        if (hash !== undefined) status.proposalHash = hash;
        status.conditions = setCondition(
          (status.conditions ?? []),
          {
            type: CONDITION.decided,
            status: 'False',
            reason: why.reason,
            message: why.message.slice(0, 32768),
            ...(generation !== undefined ? { observedGeneration: generation } : {}),
          },
          new Date(),
        );
        if (generation !== undefined) status.observedGeneration = generation;
        draft.status = status;
        return draft;
      },
      { current: c.obj, fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal },
    ).catch((err: unknown) => {
      // The proposal may be gone; anything else is retried by the caller's next pass.
      this.#s.log.debug({ err, proposal: `${c.namespace}/${c.name}` }, 'Could not record the pending reason');
      return undefined;
    });
    if (result?.changed) this.#s.fresh.proposals.remember(c.obj, result.object);
  }
}
