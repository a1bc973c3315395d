// The ledger's own bookkeeping (the overlay of objects this process wrote), with informers that were never
// started: their caches stay empty, so everything the ledger knows comes from what we record.
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DECISIONS, JOBS } from '../../../src/controller/resources.ts';
import { indexBySubmitter, SessionLedger, SUBMITTER_INDEX } from '../../../src/controller/session-ledger.ts';
import { Informer } from '../../../src/runtime/informer.ts';
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
