// The ledger's own bookkeeping (the overlay of objects this process wrote), with informers that were never
// started: their caches stay empty, so everything the ledger knows comes from what we record.
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DECISIONS, JOBS } from '../../../src/controller/resources.ts';
import { decisionFacts, indexBySubmitter, SessionLedger, SUBMITTER_INDEX } from '../../../src/controller/session-ledger.ts';
import { deepFreeze } from '../../../src/hash/freeze.ts';
import { Informer, type InformerHandlers } from '../../../src/runtime/informer.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
  users: [{ name: 'u' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
  currentContext: 'x',
});

function ledger(now = NOW): SessionLedger {
  const decisions = new Informer<KubeObject>({ kubeConfig: kc, resource: DECISIONS, indexers: { [SUBMITTER_INDEX]: indexBySubmitter } });
  const jobs = new Informer<KubeObject>({ kubeConfig: kc, resource: JOBS });
  return new SessionLedger(decisions, jobs, () => now);
}

function decision(name: string, outcome: string, effects: string[], at: number, submittedBy = 'alice-agent'): KubeObject {
  return {
    metadata: { name, namespace: 'ns', uid: `d-${name}` },
    spec: { proposalRef: { name, uid: `p-${name}` }, submittedBy, outcome, allowedEffects: effects, decidedAt: new Date(at).toISOString() },
  };
}

describe('session ledger', () => {
  it('counts ALLOW decisions as authorized effects and finds them by proposal incarnation', () => {
    const l = ledger();
    l.recordDecision(decision('a', 'ALLOW', ['READ_REPO'], NOW - 10_000));
    l.recordDecision(decision('b', 'DENY', [], NOW - 5_000));
    expect(l.history('alice-agent')).toEqual({ known: true, entries: [{ effect: 'READ_REPO', at: NOW - 10_000 }] });
    expect(l.history('someone-else')).toEqual({ known: true, entries: [] });
    expect(l.isDecided('ns', 'a', 'p-a')).toBe(true);
    expect(l.isDecided('ns', 'a', 'another-incarnation')).toBe(false);
    expect(l.recentDecisionTimes('alice-agent')).toEqual([NOW - 10_000, NOW - 5_000]);
  });

  it('counts a REQUIRE_HUMAN decision only once its Job exists, at the Job time', () => {
    const l = ledger();
    l.recordDecision(decision('h', 'REQUIRE_HUMAN', ['READ_REPO', 'NETWORK_CALL'], NOW - 60_000));
    expect(l.history('alice-agent')).toEqual({ known: true, entries: [] });
    l.recordJob({
      metadata: { name: 'h', namespace: 'ns', uid: 'j-h', creationTimestamp: new Date(NOW - 1000).toISOString() },
      spec: { proposalRef: { name: 'h', uid: 'p-h' }, envelope: { effects: ['READ_REPO', 'NETWORK_CALL'] } },
    });
    expect(l.history('alice-agent')).toEqual({
      known: true,
      entries: [
        { effect: 'READ_REPO', at: NOW - 1000 },
        { effect: 'NETWORK_CALL', at: NOW - 1000 },
      ],
    });
    expect(l.pendingWrites()).toBe(2);
  });

  it('only the last minute counts for the rate limit', () => {
    const l = ledger();
    l.recordDecision(decision('old', 'ALLOW', [], NOW - 61_000));
    l.recordDecision(decision('new', 'ALLOW', [], NOW - 59_000));
    expect(l.recentDecisionTimes('alice-agent')).toEqual([NOW - 59_000]);
  });
});

/**
 * The part of an informer the ledger uses (cache reads and handlers), driven by the test: the events of a
 * delete-and-re-create arrive in an order the test chooses.
 */
class ScriptedCache {
  readonly objects = new Map<string, KubeObject>();
  readonly #handlers: InformerHandlers<KubeObject>[] = [];
  addHandlers(h: InformerHandlers<KubeObject>): () => void {
    this.#handlers.push(h);
    return () => undefined;
  }
  get(key: string): KubeObject | undefined {
    return this.objects.get(key);
  }
  byIndex(_index: string, value: string): KubeObject[] {
    return [...this.objects.values()].filter((o) => (o.spec as { submittedBy?: string } | undefined)?.submittedBy === value);
  }
  add(obj: KubeObject): void {
    this.objects.set(`${obj.metadata.namespace}/${obj.metadata.name}`, obj);
    for (const h of this.#handlers) h.onAdd?.(obj);
  }
  delete(obj: KubeObject): void {
    this.objects.delete(`${obj.metadata.namespace}/${obj.metadata.name}`);
    for (const h of this.#handlers) h.onDelete?.(obj);
  }
}

describe('decisionFacts', () => {
  it('reads a frozen (cached) Decision once per object version, and an unfrozen one every time', () => {
    const frozen = deepFreeze(decision('f', 'ALLOW', ['READ_REPO'], NOW));
    const first = decisionFacts(frozen);
    expect(first).toMatchObject({ key: 'ns/f', uid: 'd-f', proposalUID: 'p-f', outcome: 'ALLOW', decidedAt: NOW });
    expect(decisionFacts(frozen)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // Another version (another object) is read on its own.
    const next = deepFreeze(decision('f', 'DENY', [], NOW));
    expect(decisionFacts(next)?.outcome).toBe('DENY');
    // Unreadable stays unreadable (fail closed), remembered or not.
    const broken = deepFreeze({ metadata: { name: 'x', namespace: 'ns', uid: 'd-x' }, spec: { outcome: 'ALLOW' } });
    expect(decisionFacts(broken)).toBeUndefined();
    expect(decisionFacts(broken)).toBeUndefined();
    // Not frozen: a change is seen.
    const loose = decision('l', 'ALLOW', ['READ_REPO'], NOW);
    expect(decisionFacts(loose)?.outcome).toBe('ALLOW');
    (loose.spec as { outcome: string }).outcome = 'DENY';
    expect(decisionFacts(loose)?.outcome).toBe('DENY');
  });
});

describe('session ledger across a delete and re-create of one name', () => {
  const scripted = (): { l: SessionLedger; decisions: ScriptedCache; jobs: ScriptedCache } => {
    const decisions = new ScriptedCache();
    const jobs = new ScriptedCache();
    return { l: new SessionLedger(decisions as unknown as Informer<KubeObject>, jobs as unknown as Informer<KubeObject>, () => NOW), decisions, jobs };
  };
  const incarnation = (uid: string): KubeObject => ({
    metadata: { name: 'a', namespace: 'ns', uid: `d-${uid}` },
    spec: { proposalRef: { name: 'a', uid }, submittedBy: 'alice-agent', outcome: 'ALLOW', allowedEffects: ['READ_REPO'], decidedAt: new Date(NOW).toISOString() },
  });
  const job = (uid: string): KubeObject => ({
    metadata: { name: 'a', namespace: 'ns', uid: `j-${uid}`, creationTimestamp: new Date(NOW).toISOString() },
    spec: { proposalRef: { name: 'a', uid }, envelope: { effects: ['NETWORK_CALL'] } },
  });

  it("keeps the new incarnation's Decision when the old one's deletion arrives later", () => {
    const { l, decisions } = scripted();
    const old = incarnation('p-old');
    decisions.add(old);
    l.recordDecision(incarnation('p-new'));
    decisions.delete(old);
    expect(l.isDecided('ns', 'a', 'p-new')).toBe(true);
  });

  it("records the new incarnation's Job while the cache still holds the old one, and keeps it past the old one's deletion", () => {
    const { l, jobs } = scripted();
    const old = job('p-old');
    jobs.add(old);
    l.recordJob(job('p-new'));
    expect(l.jobObject('ns', 'a', 'p-new')?.metadata.uid).toBe('j-p-new');
    jobs.delete(old);
    expect(l.jobObject('ns', 'a', 'p-new')?.metadata.uid).toBe('j-p-new');
  });
});
