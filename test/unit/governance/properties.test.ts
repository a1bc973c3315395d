import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AgentProfileSpec } from '../../../src/api/agent-profile.ts';
import { DecisionSpec } from '../../../src/api/decision.ts';
import { EFFECT_TAGS, type EffectTag } from '../../../src/api/effects.ts';
import { EffectiveEnvelope } from '../../../src/api/envelope.ts';
import type { GovernancePolicySpec } from '../../../src/api/governance-policy.ts';
import { ARTIFACT_TYPES, type ProposalSpecInput } from '../../../src/api/proposal.ts';
import { REASON_CODES } from '../../../src/governance/codes.ts';
import { decisionSpecFrom } from '../../../src/governance/decision-spec.ts';
import { DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import { mostSevere, SEVERITY } from '../../../src/governance/severity.ts';
import type { EvaluationInput, SessionHistory } from '../../../src/governance/types.ts';
import { envelopeHash } from '../../../src/integrity/document-hashes.ts';
import { input, NOW, policyWith } from './fixtures.ts';

const AGENT = 'system:serviceaccount:m87-agents:prop';
const RUNS = { numRuns: 300 };

/** Tools and the effect each needs; steps are only generated for declared effects (no drift by construction). */
const TOOL_STEPS: [EffectTag, { tool: string; args: Record<string, string> }][] = [
  ['WRITE_PATCH', { tool: 'write-file', args: { path: 'src/a.ts', content: 'x' } }],
  ['RUN_TESTS', { tool: 'run-tests', args: { path: 'tests' } }],
  ['NETWORK_CALL', { tool: 'http-get', args: { url: 'https://example.com/' } }],
  ['SEND_NOTIFICATION', { tool: 'notify', args: { url: 'https://hooks.example.com/', message: 'hi' } }],
];

// Biased towards realistic proposals so that every outcome is well represented (see the distribution test).
const COMMON: EffectTag[] = ['READ_REPO', 'READ_CONFIG', 'WRITE_PATCH', 'RUN_TESTS', 'BUILD_ARTIFACT', 'CREATE_PR', 'NETWORK_CALL', 'SEND_NOTIFICATION'];
const effectsArb = fc
  .oneof({ weight: 9, arbitrary: fc.subarray(COMMON, { maxLength: 2 }) }, { weight: 1, arbitrary: fc.subarray([...EFFECT_TAGS]) })
  .map((e) => [...new Set<EffectTag>(['COMPUTE', ...e])]);
const pathArb = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom('src/a.ts', 'README.md', '/proc/self/status', '/tmp/out', '/workspace/docs/x.md') },
  { weight: 1, arbitrary: fc.constantFrom('/sys/x', '//sys/x', '/workspace/../dev/shm', '/proc/1/environ', '../../run/x') },
);
const codeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('print(1)', 'x = 1', 'def f():\n  return 2') },
  { weight: 2, arbitrary: fc.constantFrom('import socket', 'eval(x)', 'open("/etc/passwd")', 'subprocess') },
  { weight: 2, arbitrary: fc.string({ maxLength: 64 }) },
);
const artifactArb = fc.record(
  { type: fc.constantFrom(...ARTIFACT_TYPES), path: pathArb, target: pathArb, content: codeArb },
  { requiredKeys: ['type'] },
);
const budgetArb = fc.record(
  {
    maxSteps: fc.integer({ min: 1, max: 10000 }),
    maxToolCalls: fc.integer({ min: 1, max: 1000 }),
    maxRuntimeSeconds: fc.integer({ min: 1, max: 3600 }),
    maxExternalIO: fc.integer({ min: 0, max: 100 }),
    maxWriteScope: fc.constantFrom('none', 'sandbox', 'staging', 'prod' as const),
  },
  { requiredKeys: [] },
);
const envelopeArb = fc.record(
  {
    modelSource: fc.constantFrom('closed', 'open' as const),
    safetyMode: fc.constantFrom('safe_default', 'governed', 'restricted' as const),
    autonomyBudget: budgetArb,
    egress: fc.oneof(
      { weight: 3, arbitrary: fc.constant<{ host: string; port: number }[]>([]) },
      { weight: 1, arbitrary: fc.array(fc.record({ host: fc.constantFrom('hooks.example.com', 'evil.example.com'), port: fc.constantFrom(443, 80) }), { maxLength: 2 }) },
    ),
    weightsHash: fc.constant('a'.repeat(64)),
  },
  { requiredKeys: [] },
);
const reversibilityArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom({ class: 'REVERSIBLE' as const, rollbackProof: { description: 'git revert' } }) },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        class: fc.constantFrom('REVERSIBLE', 'PARTIALLY_REVERSIBLE', 'IRREVERSIBLE' as const),
        rollbackProof: fc.oneof({ weight: 6, arbitrary: fc.constant({ description: 'git revert' }) }, { weight: 1, arbitrary: fc.constant({ description: 'undo', rollbackTool: 'nope' }) }),
        executionMode: fc.constantFrom('commit', 'draft', 'preview' as const),
        cleanupCost: fc.constantFrom('LOW', 'MEDIUM', 'HIGH' as const),
      },
      { requiredKeys: [] },
    ),
  },
);

const specArb = fc
  .record({
    effects: effectsArb,
    extraSteps: fc.subarray(TOOL_STEPS),
    artifacts: fc.array(artifactArb, { maxLength: 2 }),
    observations: fc.oneof({ weight: 2, arbitrary: fc.constant<string[]>(['saw the failing test']) }, { weight: 1, arbitrary: fc.array(fc.constantFrom('saw it', '  '), { maxLength: 2 }) }),
    riskScore: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    reversibility: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 7, arbitrary: reversibilityArb }),
    envelope: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: envelopeArb }),
  })
  .map((g) => buildSpec(g.effects, g));

type SpecParts = Pick<ProposalSpecInput, 'artifacts' | 'riskScore' | 'reversibility' | 'envelope'> & { extraSteps: typeof TOOL_STEPS; observations: string[] };
function buildSpec(effects: EffectTag[], g: Partial<SpecParts>): ProposalSpecInput {
  const steps = [{ tool: 'echo', args: { message: 'hi' } }, ...(g.extraSteps ?? []).filter(([e]) => effects.includes(e)).map(([, s]) => s)];
  return {
    agent: 'prop',
    submittedBy: AGENT,
    summary: 'generated',
    intent: { id: 'i', goal: 'g', mode: 'fix' },
    effects,
    steps,
    artifacts: g.artifacts ?? [],
    truthAccount: { observations: g.observations ?? [], claims: [] },
    riskScore: g.riskScore,
    reversibility: g.reversibility,
    envelope: g.envelope,
  };
}

/** Usually a profile that covers the proposal (otherwise nearly everything would be an agent-scope DENY). */
const profileArb = (declared: readonly string[]): fc.Arbitrary<AgentProfileSpec> =>
  fc.record({
    displayName: fc.constant('Prop'),
    subjects: fc.oneof({ weight: 12, arbitrary: fc.constant<string[]>([AGENT]) }, { weight: 1, arbitrary: fc.constant<string[]>([]) }),
    allowedEffects: fc.oneof(
      { weight: 5, arbitrary: fc.subarray([...EFFECT_TAGS]).map((extra) => [...new Set([...(declared as EffectTag[]), ...extra])]) },
      { weight: 1, arbitrary: fc.subarray([...EFFECT_TAGS]) },
    ),
    maxRisk: fc.double({ min: 0, max: 1, noNaN: true }),
  });

const historyArb: fc.Arbitrary<SessionHistory> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ known: false as const }) },
  {
    weight: 5,
    arbitrary: fc
      .array(fc.record({ effect: fc.constantFrom(...EFFECT_TAGS), at: fc.integer({ min: NOW - 600_000, max: NOW }) }), { maxLength: 3 })
      .map((entries) => ({ known: true as const, entries })),
  },
);

const POLICIES: GovernancePolicySpec[] = [
  DEFAULT_POLICY_SPEC,
  policyWith((p) => {
    p.envelope.ceiling = { maxSteps: 500, maxToolCalls: 100, maxParallelAgents: 1, maxRuntimeSeconds: 900, maxExternalIO: 20, maxWriteScope: 'staging' };
    p.envelope.allowedEgress = [{ host: 'hooks.example.com', port: 443 }];
  }),
  policyWith((p) => (p.quarantineTier = 1)),
  policyWith((p) => (p.evidence.minObservationsForNonRead = 0)),
];
const policyArb = fc.oneof({ weight: 4, arbitrary: fc.constant(DEFAULT_POLICY_SPEC) }, { weight: 3, arbitrary: fc.constantFrom(...POLICIES) });

const inputArb = specArb
  .chain((spec) => fc.record({ spec: fc.constant(spec), profile: profileArb(spec.effects as string[]), history: historyArb, policy: policyArb }))
  .map(({ spec, profile, history, policy }) => input({ spec, profile, history, policy }));

const severity = (i: EvaluationInput) => SEVERITY[evaluate(i).outcome];

describe('engine properties', () => {
  it('the generator covers every outcome (otherwise the properties below prove little)', () => {
    const counts: Record<string, number> = {};
    for (const i of fc.sample(inputArb, { numRuns: 1000, seed: 87 })) {
      const r = evaluate(i);
      const o = r.outcome;
      counts[o] = (counts[o] ?? 0) + 1;
      if (process.env.M87_PROBE) for (const x of r.reasons) if (x.outcome === 'DENY') counts[x.code] = (counts[x.code] ?? 0) + 1;
    }
    if (process.env.M87_PROBE) console.log("OUTCOMES", JSON.stringify(counts));
    for (const o of ['ALLOW', 'DENY', 'REQUIRE_HUMAN', 'NEED_MORE_EVIDENCE']) expect(counts[o] ?? 0, `${o} in ${JSON.stringify(counts)}`).toBeGreaterThanOrEqual(30);
  });

  it('is deterministic: the same input (even a deep copy) gives a deep-equal result and the same envelope hash', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const a = evaluate(i);
        const b = evaluate(i);
        const c = evaluate(structuredClone(i));
        expect(b).toEqual(a);
        expect(c).toEqual(a);
        expect(c.envelopeHash).toBe(a.envelopeHash);
      }),
      RUNS,
    );
  });

  it('keeps its invariants: known codes, most-severe outcome, schema-valid Decision, envelope hash = src/hash DEH', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const r = evaluate(i);
        for (const reason of r.reasons) {
          expect(Object.hasOwn(REASON_CODES, reason.code), reason.code).toBe(true);
          expect(REASON_CODES[reason.code as keyof typeof REASON_CODES].outcomes as readonly string[]).toContain(reason.outcome);
        }
        expect(r.outcome).toBe(mostSevere(r.reasons.map((x) => x.outcome)));
        expect(r.reasons.length).toBeGreaterThan(0);
        DecisionSpec.parse(decisionSpecFrom(i, r));
        const runs = r.outcome === 'ALLOW' || r.outcome === 'REQUIRE_HUMAN';
        expect(r.effectiveEnvelope !== undefined).toBe(runs);
        if (r.effectiveEnvelope !== undefined) {
          EffectiveEnvelope.parse(r.effectiveEnvelope);
          expect(r.envelopeHash).toBe(envelopeHash(r.effectiveEnvelope));
        }
        if (r.outcome !== 'REQUIRE_HUMAN') expect(r.challenge).toBeUndefined();
        if (!i.history.known && i.proposal.spec.effects.some((e) => ['NETWORK_CALL', 'SEND_NOTIFICATION', 'CREATE_PR', 'MERGE', 'DEPLOY', 'READ_SECRETS'].includes(e))) {
          expect(r.outcome).not.toBe('ALLOW'); // blind history never allows exfil-adjacent work
        }
      }),
      RUNS,
    );
  });

  it('adding an effect never lowers severity (for proposals without effect drift)', () => {
    fc.assert(
      fc.property(inputArb, fc.constantFrom(...EFFECT_TAGS), (i, extra) => {
        const more = structuredClone(i);
        more.proposal.spec.effects = [...new Set([...i.proposal.spec.effects, extra])];
        expect(severity(more)).toBeGreaterThanOrEqual(severity(i));
      }),
      RUNS,
    );
  });

  it('adding a tripwire-matching code artifact never lowers severity', () => {
    fc.assert(
      fc.property(inputArb, fc.constantFrom('import socket', 'os.system("id")', 'eval(x)', '__import__("os")'), fc.constantFrom('code', 'python_code', 'shell_script' as const), (i, code, type) => {
        const more = structuredClone(i);
        more.proposal.spec.artifacts = [...i.proposal.spec.artifacts, { type, content: code }];
        const r = evaluate(more);
        expect(SEVERITY[r.outcome]).toBeGreaterThanOrEqual(Math.max(severity(i), SEVERITY.REQUIRE_HUMAN));
        expect(r.reasons.some((x) => x.code === 'TRIPWIRE')).toBe(true);
      }),
      RUNS,
    );
  });

  it('adding session history never lowers severity', () => {
    fc.assert(
      fc.property(inputArb, fc.subarray([...EFFECT_TAGS], { minLength: 1 }), (i, effects) => {
        if (!i.history.known) return;
        const more = structuredClone(i);
        more.history = { known: true, entries: [...i.history.entries, ...effects.map((effect) => ({ effect, at: NOW - 1000 }))] };
        expect(severity(more)).toBeGreaterThanOrEqual(severity(i));
      }),
      RUNS,
    );
  });

  it('raising the quarantine tier never lowers severity', () => {
    fc.assert(
      fc.property(inputArb, fc.integer({ min: 0, max: 3 }), (i, tier) => {
        if (tier < i.policy.spec.quarantineTier) return;
        const more = { ...i, policy: { ...i.policy, spec: { ...i.policy.spec, quarantineTier: tier } } };
        expect(severity(more)).toBeGreaterThanOrEqual(severity(i));
      }),
      RUNS,
    );
  });
});
