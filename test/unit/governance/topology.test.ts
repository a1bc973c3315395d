import { describe, expect, it } from 'vitest';
import type { EffectTag } from '../../../src/api/effects.ts';
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import { verifyChallenge } from '../../../src/governance/challenge.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import { sessionHistoryFor, type SessionRecord } from '../../../src/governance/topology.ts';
import { baseSpec, customProfile, entries, findings, input, NOW, SECRET, type InputOptions } from './fixtures.ts';

const AGENT = 'system:serviceaccount:m87-agents:multi';
const everything = customProfile(['READ_REPO', 'READ_SECRETS', 'READ_CONFIG', 'COMPUTE', 'WRITE_PATCH', 'RUN_TESTS', 'BUILD_ARTIFACT', 'CREATE_PR', 'NETWORK_CALL', 'SEND_NOTIFICATION'], [AGENT], 1);

const STEP: Partial<Record<EffectTag, { tool: string; args: Record<string, string> }>> = {
  NETWORK_CALL: { tool: 'http-get', args: { url: 'https://example.com/' } },
  SEND_NOTIFICATION: { tool: 'notify', args: { url: 'https://hooks.example.com/', message: 'done' } },
  WRITE_PATCH: { tool: 'write-file', args: { path: 'a.txt', content: 'x' } },
  COMPUTE: { tool: 'echo', args: { message: 'x' } },
  RUN_TESTS: { tool: 'run-tests', args: { path: 'tests' } },
};

/** A proposal declaring `effects`, with a step for each effect that has a tool. */
function spec(effects: EffectTag[], over: Partial<ProposalSpecInput> = {}): ProposalSpecInput {
  const steps = effects.flatMap((e) => (STEP[e] ? [STEP[e]] : []));
  return baseSpec({
    agent: 'multi',
    submittedBy: AGENT,
    effects,
    steps: steps.length > 0 ? steps : [{ tool: 'echo', args: { message: 'x' } }],
    reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'undo' }, executionMode: 'commit', cleanupCost: 'LOW' },
    ...over,
  });
}
const run = (effects: EffectTag[], history: InputOptions['history'], over: InputOptions = {}) =>
  evaluate(input({ spec: spec(effects), profile: everything, history, ...over }));

describe('session topology', () => {
  it('catches salami slicing: a repo read authorized earlier plus a network call now', () => {
    const first = run(['READ_REPO', 'COMPUTE'], []);
    expect(first.outcome).toBe('ALLOW');
    const second = run(['NETWORK_CALL'], entries(['READ_REPO', 'COMPUTE']));
    expect(second.outcome).toBe('REQUIRE_HUMAN');
    expect(findings(second)).toEqual(['TOXIC_TOPOLOGY']);
    expect(second.reasons[0]?.message).toMatch(/repo_read_then_network \(READ_REPO \+ NETWORK_CALL\).*READ_REPO authorized for this submitter within 300s/);
  });

  it('attaches a challenge whose answer is the topology name', () => {
    const i = input({ spec: spec(['NETWORK_CALL']), profile: everything, history: entries(['READ_REPO']) });
    const r = evaluate(i);
    expect(r.challenge?.prompt).toContain('repo_read_then_network');
    expect(verifyChallenge(SECRET, i.proposal.hash, r.challenge?.id ?? '', 'repo_read_then_network')).toBe(true);
    expect(verifyChallenge(SECRET, i.proposal.hash, r.challenge?.id ?? '', 'unknown_topology')).toBe(false);
  });

  it('catches a pair inside one proposal', () => {
    const r = run(['READ_CONFIG', 'SEND_NOTIFICATION'], []);
    expect(findings(r)).toEqual(['TOXIC_TOPOLOGY']);
    expect(r.reasons[0]?.message).toContain('config_then_notify');
    expect(r.reasons[0]?.message).toContain('all in this proposal');
  });

  it('reports every completed pair and the most severe wins (seed: first match)', () => {
    const r = run(['NETWORK_CALL'], entries(['READ_REPO', 'READ_SECRETS']));
    expect(r.outcome).toBe('DENY');
    expect(r.reasons.map((x) => [x.code, x.outcome, x.message.split(' ')[2]])).toEqual([
      ['TOXIC_TOPOLOGY', 'REQUIRE_HUMAN', 'repo_read_then_network'],
      ['TOXIC_TOPOLOGY', 'DENY', 'secrets_then_network'],
    ]);
    expect(r.challenge).toBeUndefined();
  });

  it('needs the proposal to contribute to the pair', () => {
    expect(run(['WRITE_PATCH'], entries(['READ_REPO', 'NETWORK_CALL'])).outcome).toBe('ALLOW');
  });

  it('counts a pair again when the proposal repeats an effect already in the session', () => {
    expect(run(['NETWORK_CALL'], entries(['READ_REPO', 'NETWORK_CALL'])).outcome).toBe('REQUIRE_HUMAN');
  });

  it('forgets effects authorized before the window', () => {
    const createdAt = NOW - 1000;
    expect(run(['NETWORK_CALL'], entries(['READ_REPO'], createdAt - 300_000), { createdAt }).outcome).toBe('REQUIRE_HUMAN');
    expect(run(['NETWORK_CALL'], entries(['READ_REPO'], createdAt - 300_001), { createdAt }).outcome).toBe('ALLOW');
  });

  it('measures the window from the proposal creation, so waiting in the queue does not age the history', () => {
    const createdAt = NOW - 200_000;
    const at = createdAt - 250_000; // 450 s before now, 250 s before creation
    expect(run(['NETWORK_CALL'], entries(['READ_REPO'], at), { createdAt }).outcome).toBe('REQUIRE_HUMAN');
  });

  it('counts history entries with an unreadable time (fail closed)', () => {
    expect(run(['NETWORK_CALL'], [{ effect: 'READ_REPO', at: Number.NaN }]).outcome).toBe('REQUIRE_HUMAN');
  });
});

describe('the session is the submitter, not the agent name', () => {
  const S = 'system:serviceaccount:m87-agents:shapeshifter';
  const asRiley = customProfile(['READ_REPO', 'COMPUTE', 'BUILD_ARTIFACT', 'SEND_NOTIFICATION'], [S], 0.4);
  const asJordan = customProfile(['SEND_NOTIFICATION', 'BUILD_ARTIFACT', 'CREATE_PR', 'READ_REPO'], [S], 0.5);
  const records: SessionRecord[] = [
    { submittedBy: S, effects: ['READ_REPO', 'COMPUTE'], at: NOW - 30_000 }, // decided while acting as "riley"
    { submittedBy: 'system:serviceaccount:m87-agents:other', effects: ['READ_CONFIG'], at: NOW - 10_000 },
  ];

  it('a toxic pair split across two agent names is still caught', () => {
    const history = sessionHistoryFor(S, records);
    expect(history).toEqual([
      { effect: 'READ_REPO', at: NOW - 30_000 },
      { effect: 'COMPUTE', at: NOW - 30_000 },
    ]);
    for (const [agent, profile] of [['riley', asRiley], ['jordan', asJordan]] as const) {
      const r = evaluate(input({ spec: spec(['SEND_NOTIFICATION'], { agent, submittedBy: S }), profile, history }));
      expect(r.outcome, agent).toBe('REQUIRE_HUMAN');
      expect(r.reasons.find((x) => x.code === 'TOXIC_TOPOLOGY')?.message, agent).toContain('repo_read_then_notify');
    }
  });

  it("another submitter's effects do not count", () => {
    const r = evaluate(input({ spec: spec(['SEND_NOTIFICATION'], { agent: 'jordan', submittedBy: S }), profile: asJordan, history: sessionHistoryFor(S, records.slice(1)) }));
    expect(r.outcome).toBe('ALLOW');
  });
});

describe('unknown history (blind sensor)', () => {
  it('escalates exfil-adjacent proposals and never allows them', () => {
    for (const e of ['NETWORK_CALL', 'SEND_NOTIFICATION'] as const) {
      const r = run([e], { known: false });
      expect(r.outcome, e).toBe('REQUIRE_HUMAN');
      expect(findings(r)).toEqual(['SESSION_HISTORY_UNKNOWN']);
      expect(r.challenge?.prompt).toContain('session_history_unknown');
    }
  });

  it('lets proposals without exfil-adjacent effects through', () => {
    expect(run(['WRITE_PATCH'], { known: false }).outcome).toBe('ALLOW');
  });

  it("still checks the proposal's own effects", () => {
    const r = run(['READ_REPO', 'SEND_NOTIFICATION'], { known: false });
    expect(findings(r)).toEqual(['TOXIC_TOPOLOGY', 'SESSION_HISTORY_UNKNOWN']);
    expect(r.challenge?.prompt).toContain('repo_read_then_notify'); // the concrete topology is the one to acknowledge
  });

  it('cannot be escalated past a denial', () => {
    const r = run(['NETWORK_CALL', 'READ_SECRETS'], { known: false });
    expect(r.outcome).toBe('DENY');
  });
});
