// Proposal → Decision, and authorized Job → created, in one order per submitter. The queue key is the
// submitter, so one submitter's proposals are decided one at a time and in creation order (the session
// topology of each depends on the decisions and Jobs before it), while different submitters proceed in
// parallel. Each reconcile first creates the approved REQUIRE_HUMAN Jobs the proposals controller handed
// over for this submitter (MintRequests), then decides the earliest undecided proposal and, when more are
// waiting, queues the submitter again (behind other submitters: fairness). Those Jobs and the decisions of
// one submitter are thus written by one worker in one order: the next decision sees every authorization
// before it. An ALLOW's Job adds nothing to the session history (its effects count from the Decision), so
// it is created from the proposal's own reconcile (createJob) and never holds up the submitter's queue.
//
// Never decides while the policy is missing or invalid, never when over the rate limit, and an object that
// does not parse is skipped, not retried in a loop. Why a proposal waits is handed to the proposals
// controller (PendingReasons), the one writer of Proposal.status.
import type { KubeClient } from '../runtime/kube-access.ts';
import type { Logger } from 'pino';
import { API_VERSION, LABELS } from '../api/group.ts';
import { decisionSpecFrom } from '../governance/decision-spec.ts';
import { evaluate } from '../governance/evaluate.ts';
import { checkRate } from '../governance/rate.ts';
import type { EvaluationInput } from '../governance/types.ts';
import type { ObjectKey, ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { createIfAbsent } from '../runtime/status.ts';
import type { ControllerConfig } from './config.ts';
import type { EventRecorder } from './events.ts';
import type { FreshWrites } from './fresh-objects.ts';
import { UNDECIDED_BY_SUBMITTER, type Informers } from './informers.ts';
import type { ChallengeSecrets } from './keys.ts';
import type { LeaderBarrier } from './leader-barrier.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { MintRequest, MintRequests } from './mint-requests.ts';
import { FIELD_MANAGER, labelValue, MANAGED_BY } from './names.ts';
import { controllerRef } from './owner.ts';
import { createdAt, parseProposal, profileSpec, type ParsedProposal } from './parse.ts';
import type { PendingReasons } from './pending-reasons.ts';
import type { PolicyState } from './policy-state.ts';
import type { NotDecided } from './proposal-status.ts';
import type { SubmitterKey } from './queue-keys.ts';
import { DECISIONS, JOBS } from './resources.ts';
import type { ToolCache } from './tool-cache.ts';
import { decisionFacts, jobFacts, type SessionLedger } from './session-ledger.ts';

export interface DeciderDeps {
  kc: KubeClient;
  /** The controller's clock (epoch ms). */
  now: () => number;
  log: Logger;
  metrics: ControllerMetrics;
  config: Pick<ControllerConfig, 'runnerImage'>;
  informers: Pick<Informers, 'proposals' | 'profiles'>;
  ledger: SessionLedger;
  fresh: Pick<FreshWrites, 'proposals'>;
  policy: PolicyState;
  challengeSecrets: ChallengeSecrets;
  events: EventRecorder;
  /** Out: why a proposal is not decided, for the proposals controller. */
  pending: PendingReasons;
  /** In: authorized Jobs to create. */
  mintRequests: MintRequests;
  enqueueProposal(key: ObjectKey): void;
  enqueueJob(key: ObjectKey): void;
  enqueueSubmitter(submitter: string): void;
  barrier: LeaderBarrier;
  /** The tool catalogue the steps are decided against (the controller's Tool cache). */
  toolCache: Pick<ToolCache, 'tools' | 'hasSynced'>;
}

export interface Candidate {
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

/** The earliest candidate first (creation time, then namespace and name). Pure. */
export function decisionOrder<T extends Candidate>(candidates: readonly T[]): T[] {
  return [...candidates].sort(byCreation);
}

export class Decider {
  readonly #s: DeciderDeps;

  constructor(deps: DeciderDeps) {
    this.#s = deps;
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
    return decisionOrder(out);
  }

  async reconcile(key: SubmitterKey, ctx: ReconcileContext): Promise<ReconcileResult> {
    const submitter = key.submitter;
    await this.#s.barrier.wait(ctx.signal);
    const minting = await this.#mint(submitter, ctx);
    const decided = await this.#decide(submitter, ctx);
    return earliest(minting, decided);
  }

  async #decide(submitter: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const candidates = this.undecided(submitter);
    if (candidates.length === 0) return;
    // The controller starts only once the Tool cache synced (dependsOn); this keeps it so if that changes.
    if (!this.#s.toolCache.hasSynced()) return { requeueAfterMs: 1000 };

    const policy = this.#s.policy.current();
    if (policy.state !== 'valid') {
      const reason = policy.state === 'missing' ? 'PolicyMissing' : 'PolicyInvalid';
      for (const c of candidates) this.#notDecided(c, { phase: 'Pending', reason, message: policy.message });
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
      this.#notDecided(c, { phase: 'Pending', reason: 'InvalidProposal', message: `The Proposal cannot be read: ${parsed.error}` });
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
      this.#notDecided(c, {
        phase: 'Pending',
        reason: 'ChallengeSecretUnavailable',
        message: `The challenge secret cannot be read: ${(err as Error).message}`,
        hash: parsed.hash,
      });
      throw err;
    }

    const result = await (async (): Promise<ReconcileResult | 'decided'> => {
      const now = this.#s.now();
      const rate = checkRate(this.#s.ledger.recentDecisionTimes(submitter), now, policy.input.spec);
      if (!rate.allowed) {
        this.#s.metrics.throttled();
        this.#notDecided(c, {
          phase: 'Throttled',
          reason: 'RateLimited',
          message: `${submitter} reached ${policy.input.spec.rateLimit.proposalsPerMinute} decided proposals per minute; the proposal waits.`,
          hash: parsed.hash,
        });
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
        catalogue: this.#s.toolCache.tools(),
      };
      let evaluation;
      try {
        evaluation = evaluate(input);
      } catch (err) {
        // The engine refuses to decide with this input (never ALLOW); say so and wait for a change.
        this.#notDecided(c, { phase: 'Pending', reason: 'EvaluationFailed', message: (err as Error).message, hash: parsed.hash });
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
      const inFlight = this.#s.ledger.deciding(c.namespace, c.name, c.uid);
      let written: Awaited<ReturnType<typeof createIfAbsent<KubeObject>>>;
      try {
        written = await createIfAbsent<KubeObject>(this.#s.kc, DECISIONS, decision, {
          fence: ctx.fence,
          fieldManager: FIELD_MANAGER,
          signal: ctx.signal,
        });
      } finally {
        inFlight.done();
      }
      const { object, created } = written;
      const facts = decisionFacts(object);
      if (!facts || facts.proposalUID !== c.uid) {
        // A Decision of an earlier Proposal with this name still exists (the garbage collector removes it).
        log.info({ existing: object.metadata.uid }, 'A Decision of an earlier incarnation of the proposal exists; waiting for its removal');
        return { requeueAfterMs: 2000 };
      }
      this.#s.ledger.recordDecision(object);
      this.#s.pending.delete(c);
      this.#s.enqueueProposal({ namespace: c.namespace, name: c.name });
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
        // No Event per decision: the Decision object and Proposal.status are the record (with the reasons);
        // an Event would cost the API server as much as the decision itself (issue 16).
      } else {
        log.info({ decision: facts.outcome }, 'Decision already recorded');
      }
      return 'decided';
    })();
    if (result !== 'decided') return result;
    // More waiting: queue the submitter again; the queue hands it out after the submitters already waiting.
    if (candidates.length > 1) this.#s.enqueueSubmitter(submitter);
  }

  /**
   * Creates the submitter's authorized Jobs (built and signed by the proposals controller) that do not
   * exist yet. A request whose proposal is gone or was created again (another UID) is dropped.
   */
  async #mint(submitter: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    let retry = false;
    for (const request of this.#s.mintRequests.of(submitter)) {
      const { namespace, name, uid, hash } = request.proposal;
      const proposal = this.#s.fresh.proposals.read(this.#s.informers.proposals.getByName(namespace, name));
      const parsed = proposal === undefined ? undefined : parseProposal(proposal);
      if (proposal?.metadata.uid !== uid || proposal.metadata.deletionTimestamp !== undefined || !parsed?.ok || parsed.value.hash !== hash) {
        this.#s.mintRequests.done(submitter, request);
        continue;
      }
      if (this.#s.ledger.jobObject(namespace, name, uid) !== undefined) {
        this.#s.mintRequests.done(submitter, request);
        continue;
      }
      if (!(await this.createJob(request, ctx))) retry = true;
      else this.#s.mintRequests.done(submitter, request);
    }
    return retry ? { requeueAfterMs: 2000 } : undefined;
  }

  /**
   * Creates the Job of an authorized proposal; the one place Jobs are created. In the submitter's order
   * (#mint) for an approved REQUIRE_HUMAN proposal, whose Job is what adds its effects to the session
   * history; directly from the proposals controller for an ALLOW, whose effects already count from its
   * Decision. true when the Job of this incarnation exists now; false while one of an earlier incarnation
   * is in the way.
   */
  async createJob(request: MintRequest, ctx: ReconcileContext): Promise<boolean> {
    await this.#s.barrier.wait(ctx.signal);
    const { namespace, name, uid } = request.proposal;
    const log = this.#s.log.child({ controller: 'decisions', namespace, name, reconcileID: ctx.reconcileID });
    const { object, created } = await createIfAbsent<KubeObject>(this.#s.kc, JOBS, request.job, {
      fence: ctx.fence,
      fieldManager: FIELD_MANAGER,
      signal: ctx.signal,
    });
    if (jobFacts(object)?.proposalUID !== uid) {
      log.info('A Job of an earlier incarnation of the proposal exists; waiting for its removal');
      return false;
    }
    this.#s.ledger.recordJob(object);
    this.#s.enqueueJob({ namespace, name });
    this.#s.enqueueProposal({ namespace, name });
    if (created) {
      const spec = request.job.spec as { envelopeHash?: string; keyId?: string };
      log.info({ job: name, envelopeHash: spec.envelopeHash, keyId: spec.keyId }, 'Minted job');
      if (request.approvalRequestedAt !== undefined) this.#s.metrics.approvalWait((this.#s.now() - request.approvalRequestedAt) / 1000);
    }
    return true;
  }

  /** Hands why the proposal waits to the proposals controller (which writes it when it changed). */
  #notDecided(c: Candidate, why: NotDecided): void {
    if (this.#s.pending.set({ namespace: c.namespace, name: c.name }, { uid: c.uid, ...why })) this.#s.enqueueProposal({ namespace: c.namespace, name: c.name });
  }
}

/** The sooner of two requeue requests (undefined: none). */
function earliest(a: ReconcileResult, b: ReconcileResult): ReconcileResult {
  const ms = [a?.requeueAfterMs, b?.requeueAfterMs].filter((x): x is number => x !== undefined);
  if (a?.requeue === true || b?.requeue === true) return { requeue: true };
  return ms.length > 0 ? { requeueAfterMs: Math.min(...ms) } : undefined;
}
