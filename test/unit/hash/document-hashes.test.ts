import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EffectiveEnvelope } from '../../../src/api/envelope.ts';
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import { CanonicalizationError, canonicalHash } from '../../../src/hash/canonical.ts';
import { envelopeHash, parsedEnvelopeHash, proposalHash } from '../../../src/integrity/document-hashes.ts';

const HASH = 'a'.repeat(64);

function spec(): ProposalSpecInput {
  return {
    agent: 'casey',
    submittedBy: 'system:serviceaccount:m87-agents:casey',
    summary: 'Run the cart tests — «café» 😀',
    intent: { id: 'fix-1', goal: 'Confirm the rounding fix.', mode: 'fix' },
    effects: ['READ_REPO', 'RUN_TESTS'],
    steps: [{ tool: 'pytest', args: { args: '-q tests/test_cart.py' } }],
    artifacts: [{ type: 'diff', path: 'cart.py', content: '-a\n+b\n' }],
    truthAccount: { observations: ['CI run 4812 failed.'], claims: [{ text: 'Rounding bug.', confidence: 0.8 }] },
    riskScore: 0.2,
    envelope: { autonomyBudget: { maxSteps: 10, maxWriteScope: 'sandbox' }, egress: [{ host: 'pypi.internal', port: 443 }] },
    reversibility: { class: 'REVERSIBLE', executionMode: 'commit', cleanupCost: 'LOW', rollbackProof: { description: 'Discard the workspace.' } },
  };
}

function envelope(): EffectiveEnvelope {
  return {
    modelId: 'm87-runner-v1',
    modelSource: 'closed',
    inferencePolicy: { reasoningMode: false, toolAccessProfile: 'default', maxComputeClass: 'standard' },
    safetyMode: 'safe_default',
    autonomyBudget: { maxSteps: 100, maxToolCalls: 50, maxParallelAgents: 1, maxRuntimeSeconds: 300, maxExternalIO: 10, maxWriteScope: 'sandbox' },
    steps: [{ tool: 'pytest', args: { args: '-q' }, toolHash: HASH, image: `ghcr.io/m87/tool-pytest@sha256:${'1'.repeat(64)}` }],
    image: 'ghcr.io/m87/runner:0.1.0',
    egress: [{ host: 'pypi.internal', port: 443 }],
    effectSchemaVersion: '1.0.0',
    effects: ['READ_REPO', 'RUN_TESTS'],
    reversibility: { class: 'REVERSIBLE', executionMode: 'commit', cleanupCost: 'LOW', hasRollbackProof: true },
    humanApproved: false,
    budgetMultiplierPercent: 100,
    retryLimit: 5,
    proposal: { namespace: 'team-a', name: 'run-cart-tests', uid: '7d3c9a4e-2f61-4b8a-9c05-1e6f8d2b4a73', hash: HASH },
  };
}

/** Same content, every object's keys in reverse order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reverseKeys(v)]),
    );
  }
  return value;
}

/** Sets a value at a path like ['envelope', 'egress', 0, 'port'] on a deep copy. */
function withValue<T>(base: T, path: (string | number)[], value: unknown): T {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1)!] = value;
  return copy as T;
}

describe('proposalHash', () => {
  it('is stable: a golden value other implementations (kubectl plugin, runner) can check against', () => {
    const minimal = {
      agent: 'casey',
      submittedBy: 'casey',
      summary: 's',
      intent: { id: 'i', goal: 'g', mode: 'plan' },
      effects: ['READ_REPO'],
      steps: [{ tool: 'echo' }],
      truthAccount: {},
    };
    // The hash covers the stored form: defaults (args {}, artifacts [], observations [], claims []) included.
    expect(proposalHash(minimal)).toBe(
      canonicalHash({
        agent: 'casey',
        submittedBy: 'casey',
        summary: 's',
        intent: { id: 'i', goal: 'g', mode: 'plan' },
        effects: ['READ_REPO'],
        steps: [{ tool: 'echo', args: {} }],
        artifacts: [],
        truthAccount: { observations: [], claims: [] },
      }),
    );
    // Cross-checked with Python: sha256(json.dumps(stored, sort_keys=True, separators=(',', ':'))), which equals
    // JCS for ASCII-only documents without floats.
    expect(proposalHash(minimal)).toBe('47e345b14481907d407a7559e5cfab5b325211480e7f41e9463b136c8a8c2a83');
  });

  it('does not depend on the key order of the input', () => {
    expect(proposalHash(reverseKeys(spec()))).toBe(proposalHash(spec()));
  });

  it('ignores fields the API server would prune, and equals the hash of the defaulted form', () => {
    const withUnknown = { ...spec(), surprise: 'x', intent: { ...spec().intent, extra: 1 } };
    expect(proposalHash(withUnknown)).toBe(proposalHash(spec()));
    const { artifacts: _artifacts, ...withoutArtifacts } = spec();
    expect(proposalHash(withoutArtifacts)).toBe(proposalHash({ ...withoutArtifacts, artifacts: [] }));
  });

  const changes: [string, (string | number)[], unknown][] = [
    ['agent', ['agent'], 'jordan'],
    ['submittedBy', ['submittedBy'], 'someone-else'],
    ['summary (one character)', ['summary'], 'Run the cart tests — «cafe\u0301» 😀'],
    ['intent.mode', ['intent', 'mode'], 'build'],
    ['effects order', ['effects'], ['RUN_TESTS', 'READ_REPO']],
    ['effects content', ['effects'], ['READ_REPO']],
    ['a step argument', ['steps', 0, 'args', 'args'], '-q tests/'],
    ['a step tool', ['steps', 0, 'tool'], 'echo'],
    ['artifact content', ['artifacts', 0, 'content'], '-a\n+c\n'],
    ['an observation', ['truthAccount', 'observations', 0], 'CI run 4813 failed.'],
    ['a claim confidence', ['truthAccount', 'claims', 0, 'confidence'], 0.81],
    ['riskScore', ['riskScore'], 0.20000000000000004],
    ['requested budget', ['envelope', 'autonomyBudget', 'maxSteps'], 11],
    ['egress port', ['envelope', 'egress', 0, 'port'], 444],
    ['reversibility class', ['reversibility', 'class'], 'PARTIALLY_REVERSIBLE'],
    ['rollback proof', ['reversibility', 'rollbackProof', 'description'], 'Discard it.'],
    ['supersedes (added)', ['supersedes'], 'earlier-proposal'],
  ];
  it.each(changes)('changes when %s changes', (_what, path, value) => {
    expect(proposalHash(withValue(spec(), path, value))).not.toBe(proposalHash(spec()));
  });

  it('changes when any summary changes (property)', () => {
    const base = proposalHash(spec());
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200, unit: 'grapheme' }), (summary) => {
        fc.pre(summary !== spec().summary);
        expect(proposalHash({ ...spec(), summary })).not.toBe(base);
      }),
    );
  });

  it.each([
    [['envelope', 'autonomyBudget', 'maxSteps'], 2.5, /^spec\.envelope\.autonomyBudget\.maxSteps: /],
    [['envelope', 'autonomyBudget', 'maxExternalIO'], 1e21, /^spec\.envelope\.autonomyBudget\.maxExternalIO: /],
    [['envelope', 'egress', 0, 'port'], 443.0000001, /^spec\.envelope\.egress\[0\]\.port: /],
  ] as const)('refuses a non-integer where an integer is meant (%j), naming the field', (path, value, message) => {
    expect(() => proposalHash(withValue(spec(), [...path], value))).toThrow(CanonicalizationError);
    expect(() => proposalHash(withValue(spec(), [...path], value))).toThrow(message);
  });

  it('refuses NaN and Infinity, naming the field', () => {
    expect(() => proposalHash({ ...spec(), riskScore: NaN })).toThrow(/^spec\.riskScore: /);
    expect(() => proposalHash({ ...spec(), riskScore: Infinity })).toThrow(/^spec\.riskScore: /);
    expect(() => proposalHash(withValue(spec(), ['truthAccount', 'claims', 0, 'confidence'], -Infinity))).toThrow(
      /^spec\.truthAccount\.claims\[0\]\.confidence: /,
    );
  });

  it('refuses a spec the API server would refuse, naming the field', () => {
    expect(() => proposalHash({ ...spec(), effects: [] })).toThrow(/^spec\.effects: /);
    expect(() => proposalHash({ ...spec(), effects: ['READ_REPO', 'TELEPORT'] })).toThrow(/^spec\.effects\[1\]: /);
    expect(() => proposalHash({ ...spec(), riskScore: 1.5 })).toThrow(/^spec\.riskScore: /);
    expect(() => proposalHash({ ...spec(), effects: ['READ_REPO', 'READ_REPO'] })).toThrow(/^spec\.effects: effects must not repeat/);
    expect(() => proposalHash({ ...spec(), summary: 'x'.repeat(1025) })).toThrow(/^spec\.summary: /);
    expect(() => proposalHash(null)).toThrow(CanonicalizationError);
  });
});

describe('envelopeHash (DEH)', () => {
  it('hashes the canonical form of the envelope', () => {
    expect(envelopeHash(envelope())).toBe(canonicalHash(envelope()));
    expect(envelopeHash(reverseKeys(envelope()))).toBe(envelopeHash(envelope()));
  });

  it.each([
    [['autonomyBudget', 'maxSteps'], 100.5, /^envelope\.autonomyBudget\.maxSteps: /],
    [['retryLimit'], 1.5, /^envelope\.retryLimit: /],
    [['budgetMultiplierPercent'], 80.0001, /^envelope\.budgetMultiplierPercent: /],
    [['egress', 0, 'port'], 443.5, /^envelope\.egress\[0\]\.port: /],
    [['autonomyBudget', 'maxRuntimeSeconds'], NaN, /^envelope\.autonomyBudget\.maxRuntimeSeconds: /],
  ] as const)('refuses a non-integer where an integer is meant (%j), naming the field', (path, value, message) => {
    expect(() => envelopeHash(withValue(envelope(), [...path], value))).toThrow(message);
  });

  it('of a parsed envelope (parsedEnvelopeHash) equals envelopeHash: the schema parse it skips changes nothing', () => {
    const variants: unknown[] = [
      envelope(),
      reverseKeys(envelope()),
      { ...envelope(), unknownField: 'pruned by the schema' },
      { ...envelope(), steps: [{ tool: 'pytest', toolHash: HASH, image: `ghcr.io/m87/tool-pytest@sha256:${'1'.repeat(64)}` }] }, // args defaulted
      withValue(envelope(), ['autonomyBudget', 'maxToolCalls'], 49),
    ];
    for (const v of variants) {
      const parsed = EffectiveEnvelope.parse(v);
      // Parsing the schema's output again gives it back: what the skipped parse would have returned.
      expect(EffectiveEnvelope.parse(parsed)).toEqual(parsed);
      expect(parsedEnvelopeHash(parsed)).toBe(envelopeHash(v));
    }
  });

  it('refuses an incomplete envelope, naming the missing field', () => {
    const { image: _image, ...noImage } = envelope();
    expect(() => envelopeHash(noImage)).toThrow(/^envelope\.image: /);
  });

  it.each([
    ['the image', ['image'], 'ghcr.io/m87/runner:0.1.1'],
    ['the budget', ['autonomyBudget', 'maxToolCalls'], 49],
    ['the write scope', ['autonomyBudget', 'maxWriteScope'], 'prod'],
    ['the steps', ['steps', 0, 'args', 'args'], '-x'],
    ['the egress allowlist', ['egress'], []],
    ['a step tool hash', ['steps', 0, 'toolHash'], 'b'.repeat(64)],
    ['a step image', ['steps', 0, 'image'], `ghcr.io/m87/tool-pytest@sha256:${'2'.repeat(64)}`],
    ['humanApproved', ['humanApproved'], true],
    ['the proposal UID', ['proposal', 'uid'], 'another-uid'],
  ] as const)('changes when %s changes', (_what, path, value) => {
    expect(envelopeHash(withValue(envelope(), [...path], value))).not.toBe(envelopeHash(envelope()));
  });
});
