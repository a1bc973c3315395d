/**
 * Decision-engine throughput on one core: a realistic mix of proposals (allowed, denied, escalated; with
 * artifacts, code and steps), each evaluated with its own timer. Prints ops/s and per-decision p50/p99 and
 * writes bench/results/engine.json.
 *   npm run bench:engine [-- --iterations 200000 --warmup 50000]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentProfileSpec } from '../src/api/agent-profile.ts';
import { ProposalSpec, type ProposalSpecInput } from '../src/api/proposal.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../src/governance/defaults.ts';
import { evaluate } from '../src/governance/evaluate.ts';
import type { EvaluationInput, HistoryEntry, SessionHistory } from '../src/governance/types.ts';
import { canonicalHash } from '../src/hash/canonical.ts';
import { proposalHash } from '../src/integrity/document-hashes.ts';
import { DEFAULT_CATALOGUE } from '../src/tool-catalogue/default-catalogue.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i === -1 ? undefined : Number(process.argv[i + 1]);
  return v !== undefined && Number.isInteger(v) && v > 0 ? v : fallback;
}
const ITERATIONS = arg('iterations', 200_000);
const WARMUP = arg('warmup', 50_000);

const NOW = Date.parse('2025-06-01T12:00:00Z');
const sa = (n: string) => `system:serviceaccount:m87-agents:${n}`;
const policy = { spec: DEFAULT_POLICY_SPEC, generation: 3, hash: canonicalHash(DEFAULT_POLICY_SPEC) };
const humanProfile: AgentProfileSpec = { ...(DEFAULT_AGENT_PROFILES.human as AgentProfileSpec), subjects: ['alice@example.com'] };

const PYTHON = `import json\nimport sys\n\ndef main(path):\n    with open(path) as f:\n        data = json.load(f)\n    total = sum(item["value"] for item in data["items"])\n    print(f"total={total}")\n    return 0\n\nif __name__ == "__main__":\n    sys.exit(main(sys.argv[1]))\n`;
const SHELL = `#!/bin/sh\nset -eu\nfor f in src/*.ts; do\n  wc -l "$f"\ndone\n`;

const base = (over: Partial<ProposalSpecInput>): ProposalSpecInput => ({
  agent: 'casey',
  submittedBy: sa('casey'),
  summary: 'Apply a patch and run the unit tests',
  intent: { id: 'i-1', goal: 'Fix the failing parser test', mode: 'fix' },
  effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS'],
  steps: [
    { tool: 'apply-patch', args: { patch: '--- a/src/parser.ts\n+++ b/src/parser.ts\n@@ -1 +1 @@\n-export const x = 0;\n+export const x = 1;\n' } },
    { tool: 'run-tests', args: { path: 'tests' } },
  ],
  artifacts: [
    { type: 'diff', path: 'src/parser.ts', content: '--- a\n+++ b\n@@\n-x\n+y\n' },
    { type: 'python_code', path: 'tools/sum.py', content: PYTHON },
  ],
  truthAccount: { observations: ['test parser.spec fails on empty input'], claims: [{ text: 'off by one', confidence: 0.8 }] },
  riskScore: 0.3,
  reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'git revert the patch' }, executionMode: 'commit', cleanupCost: 'MEDIUM' },
  ...over,
});

interface Case {
  label: string;
  spec: ProposalSpecInput;
  profile?: AgentProfileSpec | undefined;
  history?: SessionHistory;
}
const hist = (effects: HistoryEntry['effect'][]): SessionHistory => ({ known: true, entries: effects.map((effect, i) => ({ effect, at: NOW - 10_000 * (i + 1) })) });

const CASES: Case[] = [
  { label: 'allow: patch + tests + code', spec: base({}), history: hist(['READ_REPO', 'RUN_TESTS']) },
  { label: 'allow: tests only', spec: base({ effects: ['READ_REPO', 'RUN_TESTS'], agent: 'casey', steps: [{ tool: 'run-tests', args: { path: 'tests' } }], artifacts: [{ type: 'shell_script', path: 'scripts/count.sh', content: SHELL }] }), profile: { ...(DEFAULT_AGENT_PROFILES.casey as AgentProfileSpec), allowedEffects: ['READ_REPO', 'COMPUTE', 'WRITE_PATCH', 'RUN_TESTS'] } },
  { label: 'allow: envelope request', spec: base({ envelope: { autonomyBudget: { maxSteps: 20, maxToolCalls: 10, maxRuntimeSeconds: 120 }, safetyMode: 'governed' } }) },
  { label: 'deny: READ_SECRETS', spec: base({ effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS', 'READ_SECRETS'] }) },
  { label: 'deny: virtual FS', spec: base({ steps: [{ tool: 'run-tests', args: { path: '/workspace/../dev/shm/x' } }] }) },
  { label: 'deny: tool drift', spec: base({ effects: ['WRITE_PATCH'], steps: [{ tool: 'http-get', args: { url: 'https://example.com' } }] }) },
  { label: 'deny: agent scope', spec: base({ effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS', 'NETWORK_CALL'] }) },
  { label: 'deny: egress not allowed', spec: base({ envelope: { egress: [{ host: 'evil.example.com', port: 443 }] } }) },
  { label: 'escalate: salami topology', spec: base({ agent: 'jordan', submittedBy: sa('jordan'), effects: ['SEND_NOTIFICATION'], steps: [{ tool: 'notify', args: { url: 'https://hooks.example.com/x', message: 'done' } }], artifacts: [], reversibility: { class: 'IRREVERSIBLE', executionMode: 'commit' } }), history: hist(['READ_REPO', 'BUILD_ARTIFACT']) },
  { label: 'escalate: tripwire', spec: base({ artifacts: [{ type: 'python_code', path: 'x.py', content: PYTHON + '\nimport socket\n' }] }) },
  { label: 'escalate: deploy (human)', spec: base({ agent: 'human', submittedBy: 'alice@example.com', effects: ['DEPLOY', 'WRITE_PATCH', 'RUN_TESTS'], riskScore: 0.9 }), profile: humanProfile },
  { label: 'escalate: blind history', spec: base({ agent: 'jordan', submittedBy: sa('jordan'), effects: ['READ_REPO', 'SEND_NOTIFICATION'], steps: [{ tool: 'notify', args: { url: 'https://hooks.example.com/x', message: 'pr ready' } }], artifacts: [], reversibility: { class: 'PARTIALLY_REVERSIBLE', executionMode: 'commit', rollbackProof: { description: 'send a correction' } } }), history: { known: false } },
  { label: 'evidence: no observations', spec: base({ truthAccount: { observations: [], claims: [] } }) },
];

const inputs: EvaluationInput[] = CASES.map((c, i) => {
  const spec = ProposalSpec.parse(c.spec);
  return {
    proposal: { namespace: 'bench', name: `p-${i}`, uid: `uid-${i}`, spec, hash: proposalHash(spec), createdAt: NOW - 500 },
    profile: 'profile' in c ? c.profile : DEFAULT_AGENT_PROFILES[spec.agent],
    policy,
    history: c.history ?? { known: true, entries: [] },
    now: NOW,
    challengeSecret: 'bench-secret',
    runnerImage: 'ghcr.io/m87/runner:bench',
    catalogue: DEFAULT_CATALOGUE,
  };
});

const outcomes: Record<string, number> = {};
for (const [i, inp] of inputs.entries()) {
  const r = evaluate(inp);
  outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  console.log(`  ${(CASES[i]?.label ?? '').padEnd(32)} ${r.outcome.padEnd(18)} ${r.reasons.map((x) => x.code).join(',')}`);
}

for (let i = 0; i < WARMUP; i++) evaluate(inputs[i % inputs.length] as EvaluationInput);

// Throughput: back-to-back decisions, no per-call timer in the loop.
// CPU time too: on a shared machine wall time includes time this process was not running.
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < ITERATIONS; i++) evaluate(inputs[i % inputs.length] as EvaluationInput);
const totalNs = Number(process.hrtime.bigint() - t0);
const cpu = process.cpuUsage(cpu0);
const cpuNs = (cpu.user + cpu.system) * 1000;

// Latency: one timer per decision.
const samples = new Float64Array(ITERATIONS);
for (let i = 0; i < ITERATIONS; i++) {
  const inp = inputs[i % inputs.length] as EvaluationInput;
  const start = process.hrtime.bigint();
  evaluate(inp);
  samples[i] = Number(process.hrtime.bigint() - start);
}
const percentile = (sorted: Float64Array, p: number) => (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) / 1000;
const perCase = CASES.map((c, k) => {
  const mine = samples.filter((_, i) => i % CASES.length === k).sort();
  return { case: c.label, p50: percentile(mine, 50), p99: percentile(mine, 99) };
});
samples.sort();
const pct = (p: number) => percentile(samples, p);
const result = {
  benchmark: 'governance engine evaluate()',
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  iterations: ITERATIONS,
  warmup: WARMUP,
  mix: CASES.map((c) => c.label),
  loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  outcomes,
  opsPerSecond: Math.round(ITERATIONS / (totalNs / 1e9)),
  meanMicroseconds: Math.round(totalNs / ITERATIONS) / 1000,
  opsPerCpuSecond: Math.round(ITERATIONS / (cpuNs / 1e9)),
  cpuShareDuringRun: Math.round((cpuNs / totalNs) * 100) / 100,
  latencyMicroseconds: { p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: (samples[samples.length - 1] ?? 0) / 1000 },
  perCaseMicroseconds: perCase,
  targets: { opsPerSecond: 100_000, p99Microseconds: 50 },
};
const ok = result.opsPerSecond >= result.targets.opsPerSecond && result.latencyMicroseconds.p99 < result.targets.p99Microseconds;
console.log(`\nengine: ${result.opsPerSecond.toLocaleString('en-US')} decisions/s on one core over ${ITERATIONS.toLocaleString('en-US')} evaluations (wall clock)`);
console.log(`        ${result.opsPerCpuSecond.toLocaleString('en-US')} decisions per CPU-second (the process had ${Math.round(result.cpuShareDuringRun * 100)}% of a core)`);
console.log(`latency per decision: p50 ${pct(50).toFixed(2)} µs, p99 ${pct(99).toFixed(2)} µs, p99.9 ${pct(99.9).toFixed(2)} µs`);
for (const c of perCase) console.log(`  ${c.case.padEnd(32)} p50 ${c.p50.toFixed(2).padStart(6)} µs  p99 ${c.p99.toFixed(2).padStart(7)} µs`);
console.log(`targets (>= 100,000/s, p99 < 50 µs): ${ok ? 'met' : 'NOT met'} (load average ${result.loadAverage.join(' ')} on ${cpus().length} CPUs)`);

const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'engine.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ ...result, targetsMet: ok }, null, 2) + '\n');
console.log(`wrote ${out}`);
