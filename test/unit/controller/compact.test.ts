// What the caches keep of a Decision and of a finished tree's Proposal and Job (compact.ts), and the readers
// of those forms: each keeps every field a reader of a finished tree reads, drops the heavy parts, is known by
// identity only, and the parse functions for whole objects refuse it (fail closed).
import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../../src/api/group.ts';
import { buildAuditRecord } from '../../../src/controller/audit-record.ts';
import { asDecisionView, asFinishedJob, asFinishedProposal, isCompact, proposalFinished, type DecisionView } from '../../../src/controller/compact.ts';
import { CACHE_TRANSFORMS } from '../../../src/controller/informers.ts';
import { buildJob } from '../../../src/controller/minting.ts';
import { decisionView, parseDecision, parseJob, parseProposal, proposalHashOf } from '../../../src/controller/parse.ts';
import { desiredProposalStatus } from '../../../src/controller/proposal-status.ts';
import { FINISHED_PHASES } from '../../../src/controller/retention.ts';
import { decisionFacts, indexBySubmitter, jobFacts, SessionLedger } from '../../../src/controller/session-ledger.ts';
import { deepFreeze } from '../../../src/hash/freeze.ts';
import type { Informer} from '../../../src/runtime/informer.ts';
import { type InformerHandlers } from '../../../src/runtime/informer.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { CASEY, DECISION_UID, decisionFor, evaluationInput, JOB_UID, NOW, PROPOSAL_UID, proposalRef, signingKey, spec } from './fixtures.ts';

const TS = '2025-06-01T12:00:00Z';

function served(obj: object, rv = '42'): KubeObject {
  const o = structuredClone(obj) as KubeObject;
  o.metadata = { ...o.metadata, resourceVersion: rv, creationTimestamp: TS, managedFields: [{ manager: 'm87-controller', operation: 'Update' }] };
  return o;
}

/** A Decision as the API server serves it (the fixture's ALLOW, with its envelope). */
function decisionObj(): KubeObject {
  return served(decisionFor());
}

/** The Job minted for the fixture's Decision, with `status`. */
function jobObj(status: Record<string, unknown> | undefined): KubeObject {
  const job = buildJob({ proposal: proposalRef(), decision: decisionFor(), approvalRefs: [], signingKey: signingKey() });
  return served({ ...job, metadata: { ...job.metadata, uid: JOB_UID }, ...(status ? { status } : {}) });
}

const SUCCEEDED = {
  phase: 'Succeeded',
  reason: 'Succeeded',
  message: 'The runner finished every step.',
  podName: 'm87-job-write-file',
  startTime: TS,
  completionTime: TS,
  receipt: { v: 1, status: 'Succeeded', reasonCode: '', jobUID: JOB_UID, steps: [] },
  conditions: [
    { type: 'EnvelopeVerified', status: 'True', reason: 'Verified', message: 'A long message '.repeat(20), lastTransitionTime: TS },
    { type: 'Succeeded', status: 'True', reason: 'Succeeded', message: 'The runner finished every step.', lastTransitionTime: TS },
  ],
  observedGeneration: 1,
};

/** The fixture's Proposal with the status the proposals controller writes for `phase` (a Job of that phase). */
function proposalObj(phase: 'Running' | 'Succeeded' | 'Failed'): KubeObject {
  const input = evaluationInput();
  const decision = decisionFor(input);
  const status = desiredProposalStatus(
    undefined,
    {
      generation: 1,
      hash: input.proposal.hash,
      decision: { ref: { name: 'write-file', uid: DECISION_UID }, outcome: decision.spec.outcome, reasons: decision.spec.reasons, expiresAt: decision.spec.expiresAt },
      job: { ref: { name: 'write-file', uid: JOB_UID }, phase, reason: phase === 'Failed' ? 'DEH_MISMATCH' : undefined, message: phase === 'Failed' ? 'the runner refused' : undefined },
    },
    new Date(TS),
  );
  return served({ apiVersion: API_VERSION, kind: 'Proposal', metadata: { name: 'write-file', namespace: 'team-a', uid: PROPOSAL_UID, generation: 1 }, spec: spec(), status });
}

describe('a Decision in the cache', () => {
  it('keeps everything but the effective envelope; the view reads it, the parse for whole Decisions refuses it', () => {
    const raw = decisionObj();
    const cached = CACHE_TRANSFORMS.decisions(raw);
    expect(isCompact(cached)).toBe(true);
    const view = decisionView(cached);
    expect(view.ok).toBe(true);
    if (!view.ok) return;
    const { effectiveEnvelope, ...rest } = decisionFor().spec;
    expect(effectiveEnvelope).toBeDefined();
    expect(view.value.spec).toEqual(rest);
    expect(view.value.spec.envelopeHash).toBe(decisionFor().spec.envelopeHash);
    expect(Object.hasOwn(view.value.spec, 'effectiveEnvelope')).toBe(false);
    // Code written for whole Decisions (minting, the audit record) cannot take the compact one for one.
    const whole = parseDecision(cached);
    expect(whole.ok).toBe(false);
    expect(whole.ok ? '' : whole.error).toMatch(/compact/);
    // The ledger's facts (session history, rate) read the compact form as they read the whole one.
    expect(decisionFacts(cached)).toEqual(decisionFacts(raw));
    // Metadata: identity and lifetime only (the Decision's labels and owner reference are not cached).
    const owned = CACHE_TRANSFORMS.decisions({
      ...raw,
      metadata: { ...raw.metadata, labels: { 'app.kubernetes.io/managed-by': 'm87' }, ownerReferences: [{ apiVersion: API_VERSION, kind: 'Proposal', name: 'p', uid: 'u', controller: true }] },
    });
    expect(owned.metadata).toEqual({ name: raw.metadata.name, namespace: raw.metadata.namespace, uid: raw.metadata.uid, resourceVersion: '42', creationTimestamp: TS });
  });

  it('a whole Decision (our own write, a live GET) reads through the same view', () => {
    const raw = decisionObj();
    const view = decisionView(raw);
    expect(view.ok && view.value.spec.outcome).toBe('ALLOW');
    expect(isCompact(raw)).toBe(false);
  });

  it('is compact by identity only: a copy of one (or any object from the server) is not', () => {
    const cached = CACHE_TRANSFORMS.decisions(decisionObj());
    expect(isCompact(structuredClone(cached))).toBe(false);
    expect(asDecisionView(structuredClone(cached))).toBeUndefined();
  });

  it('cannot be handed to minting (a compile error) and minting from a copy without its envelope refuses', () => {
    const cached = CACHE_TRANSFORMS.decisions(decisionObj());
    const view = asDecisionView(cached) as DecisionView;
    // @ts-expect-error A DecisionView is not a Decision: buildJob needs the effective envelope.
    expect(() => buildJob({ proposal: proposalRef(), decision: view, approvalRefs: [], signingKey: signingKey() })).toThrow(/effectiveEnvelope: missing/);
  });

  it('a relist delivers the whole Decision again: it is compacted again, to the same content', () => {
    const first = deepFreeze(CACHE_TRANSFORMS.decisions(decisionObj()));
    const again = deepFreeze(CACHE_TRANSFORMS.decisions(decisionObj()));
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
    expect(isCompact(again)).toBe(true);
  });
});

describe('a Job in the cache', () => {
  it('is kept whole (and parses) while its result is not recorded', () => {
    for (const status of [undefined, { phase: 'Pending' }, { phase: 'Running', podName: 'm87-job-write-file' }]) {
      const cached = CACHE_TRANSFORMS.jobs(jobObj(status));
      expect(isCompact(cached)).toBe(false);
      const parsed = parseJob(cached);
      expect(parsed.ok).toBe(true);
      expect(parsed.ok && parsed.value.spec.envelope.steps.length).toBeGreaterThan(0);
    }
  });

  it('once Succeeded or Failed keeps its refs, envelope hash, effects and result, and drops envelope, signature, receipt and conditions', () => {
    for (const phase of ['Succeeded', 'Failed'] as const) {
      const raw = jobObj({ ...SUCCEEDED, phase, reason: phase });
      const cached = CACHE_TRANSFORMS.jobs(raw);
      const job = asFinishedJob(cached);
      expect(job).toBeDefined();
      if (job === undefined) return;
      const whole = parseJob(raw);
      if (!whole.ok) throw new Error(whole.error);
      expect(job.spec).toEqual({
        proposalRef: whole.value.spec.proposalRef,
        decisionRef: whole.value.spec.decisionRef,
        envelopeHash: whole.value.spec.envelopeHash,
        effects: whole.value.spec.envelope.effects,
      });
      expect(job.status).toEqual({ phase, reason: phase, message: SUCCEEDED.message, startTime: TS, completionTime: TS, observedGeneration: 1 });
      expect(job.metadata.uid).toBe(JOB_UID);
      // Identity and lifetime only: the minted Job's labels and owner reference (and managedFields) are not cached.
      expect(raw.metadata.labels).toBeDefined();
      expect(raw.metadata.ownerReferences).toHaveLength(1);
      expect(job.metadata).toEqual({ name: raw.metadata.name, namespace: raw.metadata.namespace, uid: JOB_UID, resourceVersion: raw.metadata.resourceVersion, creationTimestamp: TS });
      // The job reconciler and the audit record parse whole Jobs only: the compact one is refused.
      expect(parseJob(cached).ok).toBe(false);
      // The session ledger's facts are the same as from the whole Job.
      expect(jobFacts(cached)).toEqual(jobFacts(raw));
    }
  });

  it("the session ledger counts a finished REQUIRE_HUMAN Job's effects at its creation from the compact form", () => {
    const ledger = scriptedLedger();
    const d = decisionObj();
    (d.spec as { outcome: string }).outcome = 'REQUIRE_HUMAN';
    ledger.decisions.add(CACHE_TRANSFORMS.decisions(d));
    ledger.jobs.add(CACHE_TRANSFORMS.jobs(jobObj(SUCCEEDED)));
    const history = ledger.l.history(CASEY);
    expect(history.known).toBe(true);
    const effects = (parseJob(jobObj(undefined)) as { ok: true; value: { spec: { envelope: { effects: string[] } } } }).value.spec.envelope.effects;
    expect(history.known && history.entries).toEqual(effects.map((effect) => ({ effect, at: Date.parse(TS) })));
  });
});

describe('a Proposal in the cache', () => {
  it('is kept whole while its tree is not finished', () => {
    const cached = CACHE_TRANSFORMS.proposals(proposalObj('Running'));
    expect(isCompact(cached)).toBe(false);
    expect(proposalFinished(cached)).toBe(false);
    expect(parseProposal(cached).ok).toBe(true);
  });

  it('once finished keeps submitter, agent, summary, its hash and status without condition messages', () => {
    for (const phase of ['Succeeded', 'Failed'] as const) {
      const raw = proposalObj(phase);
      const whole = parseProposal(served(raw));
      if (!whole.ok) throw new Error(whole.error);
      const cached = CACHE_TRANSFORMS.proposals(raw);
      const finished = asFinishedProposal(cached);
      expect(finished).toBeDefined();
      if (finished === undefined) return;
      expect(FINISHED_PHASES.has(phase)).toBe(true);
      expect(proposalFinished(cached)).toBe(true);
      expect(finished.hash).toBe(whole.value.hash);
      expect(proposalHashOf(cached)).toBe(whole.value.hash);
      expect(finished.proposal.spec).toEqual({ submittedBy: whole.value.proposal.spec.submittedBy, agent: whole.value.proposal.spec.agent, summary: whole.value.proposal.spec.summary });
      const rawStatus = raw.status as { conditions: Record<string, unknown>[]; message: string; phase: string; proposalHash: string };
      expect(finished.proposal.status.phase).toBe(phase);
      expect(finished.proposal.status.message).toBe(rawStatus.message);
      expect(finished.proposal.status.proposalHash).toBe(rawStatus.proposalHash);
      expect(finished.proposal.status.conditions).toEqual(rawStatus.conditions.map(({ message: _m, ...c }) => c));
      // The decider and the proposals controller's derivation parse whole Proposals only.
      expect(parseProposal(cached).ok).toBe(false);
      const annotated = CACHE_TRANSFORMS.proposals({ ...raw, metadata: { ...raw.metadata, annotations: { note: 'x' }, labels: { team: 'a' } } });
      expect(annotated.metadata).toEqual({ name: 'write-file', namespace: 'team-a', uid: PROPOSAL_UID, generation: 1, resourceVersion: '42', creationTimestamp: TS });
    }
  });

  it('a status that goes back from finished arrives whole and is cached whole', () => {
    const back = proposalObj('Running');
    const cached = CACHE_TRANSFORMS.proposals(back);
    expect(isCompact(cached)).toBe(false);
    expect(parseProposal(cached).ok).toBe(true);
  });

  it("the audit record of a compact finished Proposal names the proposal's hash, submitter and agent", () => {
    const raw = proposalObj('Succeeded');
    const cached = CACHE_TRANSFORMS.proposals(raw);
    expect(isCompact(cached)).toBe(true);
    const { receipt: _receipt, ...result } = SUCCEEDED;
    const fromWhole = buildAuditRecord({ proposal: raw, decision: decisionObj(), approvals: [], job: jobObj(result) }, 'HistoryTTL', new Date(NOW));
    const fromCompact = buildAuditRecord({ proposal: cached, decision: decisionObj(), approvals: [], job: jobObj(result) }, 'HistoryTTL', new Date(NOW));
    expect(fromCompact.proposal.hash).toBe(proposalHashOf(raw));
    expect(fromCompact).toEqual(fromWhole);
  });
});

describe('the session ledger holds the whole ALLOW Decision for minting until its Job exists', () => {
  it('an ALLOW Decision we wrote: until the Job is recorded or seen', () => {
    const { l, jobs } = scriptedLedger();
    const d = decisionObj();
    l.recordDecision(d);
    expect(l.fullDecision('team-a', 'write-file', PROPOSAL_UID, DECISION_UID)).toBe(d);
    // Another incarnation or another Decision: not this one.
    expect(l.fullDecision('team-a', 'write-file', 'another-proposal', DECISION_UID)).toBeUndefined();
    expect(l.fullDecision('team-a', 'write-file', PROPOSAL_UID, 'another-decision')).toBeUndefined();
    jobs.add(CACHE_TRANSFORMS.jobs(jobObj(undefined)));
    expect(l.fullDecision('team-a', 'write-file', PROPOSAL_UID, DECISION_UID)).toBeUndefined();
    expect(l.heldForMinting()).toBe(0);
  });

  it('a DENY or REQUIRE_HUMAN is never held (minting an approved one reads the server); an ALLOW whose Job exists already is not either', () => {
    const { l, jobs } = scriptedLedger();
    for (const outcome of ['DENY', 'REQUIRE_HUMAN', 'NEED_MORE_EVIDENCE']) {
      const d = decisionObj();
      (d.spec as { outcome: string }).outcome = outcome;
      l.recordDecision(d);
      expect(l.heldForMinting()).toBe(0);
      expect(l.fullDecision('team-a', 'write-file', PROPOSAL_UID, DECISION_UID)).toBeUndefined();
    }
    jobs.add(CACHE_TRANSFORMS.jobs(jobObj(undefined)));
    l.recordDecision(decisionObj());
    expect(l.heldForMinting()).toBe(0);
  });
});

/** An informer cache filled by the test (add/delete call the handlers as an informer does). */
class ScriptedCache {
  readonly objects = new Map<string, KubeObject>();
  readonly #handlers: InformerHandlers<KubeObject>[] = [];
  addHandlers(h: InformerHandlers<KubeObject>): void {
    this.#handlers.push(h);
  }
  get(key: string): KubeObject | undefined {
    return this.objects.get(key);
  }
  byIndex(_name: string, value: string): KubeObject[] {
    return [...this.objects.values()].filter((o) => indexBySubmitter(o).includes(value));
  }
  add(obj: KubeObject): void {
    this.objects.set(`${obj.metadata.namespace}/${obj.metadata.name}`, obj);
    for (const h of this.#handlers) h.onAdd?.(obj);
  }
}

function scriptedLedger(): { l: SessionLedger; decisions: ScriptedCache; jobs: ScriptedCache } {
  const decisions = new ScriptedCache();
  const jobs = new ScriptedCache();
  return { l: new SessionLedger(decisions as unknown as Informer<KubeObject>, jobs as unknown as Informer<KubeObject>, () => Date.parse(TS) + 1000), decisions, jobs };
}
