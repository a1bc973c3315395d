// The proposal mix the loader sends: ~70 % the default policy allows, 20 % it denies, 10 % it escalates to
// a human. Every kind is sent by every submitter (acting as the shipped `casey` profile), and only ALLOW
// adds to a submitter's session history — with effects that form no toxic pair — so the history that
// builds up during a run never changes how a later proposal of the mix is decided
// (test/unit/bench/mix.test.ts replays a run through the engine to prove it).
import type { ProposalSpecInput } from '../src/api/proposal.ts';

export type ProposalKind = 'allow' | 'deny' | 'human';

export const EXPECTED_OUTCOME: Readonly<Record<ProposalKind, string>> = {
  allow: 'ALLOW',
  deny: 'DENY',
  human: 'REQUIRE_HUMAN',
};

/** One cycle of ten: 7 allow, 2 deny, 1 human, interleaved so every stretch of a run has the same mix. */
const CYCLE: readonly ProposalKind[] = ['allow', 'allow', 'deny', 'allow', 'allow', 'human', 'allow', 'deny', 'allow', 'allow'];

export function kindOf(index: number): ProposalKind {
  return CYCLE[((index % CYCLE.length) + CYCLE.length) % CYCLE.length] as ProposalKind;
}

/** The profile every bench submitter acts as (a subject of it). */
export const BENCH_AGENT = 'casey';

const PYTHON = `import json\nimport sys\n\ndef main(path):\n    with open(path) as f:\n        data = json.load(f)\n    total = sum(item["value"] for item in data["items"])\n    print(f"total={total}")\n    return 0\n\nif __name__ == "__main__":\n    sys.exit(main(sys.argv[1]))\n`;

/** A spec the default policy decides as `kind` for a casey-profile submitter. */
export function proposalSpec(kind: ProposalKind, submittedBy: string, index: number): ProposalSpecInput {
  const base: ProposalSpecInput = {
    agent: BENCH_AGENT,
    submittedBy,
    summary: `Bench proposal ${index}: patch the parser and run the unit tests`,
    intent: { id: `bench-${index}`, goal: 'Fix the failing parser test', mode: 'fix' },
    effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS'],
    steps: [
      { tool: 'apply-patch', args: { patch: `--- a/src/parser-${index}.ts\n+++ b/src/parser-${index}.ts\n@@ -1 +1 @@\n-export const x = 0;\n+export const x = 1;\n` } },
      { tool: 'run-tests', args: { path: 'tests' } },
    ],
    artifacts: [
      { type: 'diff', path: `src/parser-${index}.ts`, content: '--- a\n+++ b\n@@\n-x\n+y\n' },
      { type: 'python_code', path: 'tools/sum.py', content: PYTHON },
    ],
    truthAccount: { observations: ['parser.spec fails on empty input'], claims: [{ text: 'off by one in the tokenizer', confidence: 0.8 }] },
    riskScore: 0.3,
    reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'git revert the patch' }, executionMode: 'commit', cleanupCost: 'MEDIUM' },
  };
  switch (kind) {
    case 'allow':
      return base;
    case 'deny':
      // READ_SECRETS is outside casey's allowed effects (and a secrets rule of its own).
      return { ...base, effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS', 'READ_SECRETS'] };
    case 'human':
      // A code tripwire escalates; the effects stay harmless, so nothing toxic enters the history.
      return { ...base, artifacts: [{ type: 'python_code', path: 'tools/probe.py', content: `${PYTHON}\nimport socket\n` }] };
    default: {
      const never: never = kind;
      throw new Error(`unknown proposal kind ${String(never)}`);
    }
  }
}

/** Epoch milliseconds (fractional) at which the loader first sent the proposal. */
export const SENT_AT_ANNOTATION = 'bench.m87.io/sent-at';
/** The kind of the mix the loader meant the proposal to be (allow, deny, human). */
export const KIND_ANNOTATION = 'bench.m87.io/kind';

export function isProposalKind(value: unknown): value is ProposalKind {
  return value === 'allow' || value === 'deny' || value === 'human';
}

/** High-resolution wall clock in epoch milliseconds, comparable between processes on one host. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}
