// The targets (2-core machine, API server on the same host) checked against a run, and the
// ours/baseline comparison per rate. Pure: it only reads the figures.
import type { BenchResults, Comparison, PhaseResult, Rate, TargetCheck } from './results.ts';
import { ratio } from './stats.ts';

export const TARGETS = {
  sustainedPerSecond: 100,
  throughputVsBaseline: 0.8,
  /** p99 decision latency (ms) by fixed rate (proposals/s). */
  p99MsByRate: { 20: 250, 50: 1000 } as Readonly<Record<number, number>>,
  podP99Ms: 500,
  rssMiB: 200,
  /** The memory target is stated for this many proposals. */
  rssAtProposals: 10_000,
} as const;

export function rateLabel(rate: Rate): string {
  return rate === 'max' ? 'max' : `${rate}/s`;
}

function find(phases: readonly PhaseResult[], controller: PhaseResult['controller'], rate: Rate): PhaseResult | undefined {
  return phases.find((p) => p.controller === controller && p.rate === rate);
}

export function compare(phases: readonly PhaseResult[]): Comparison[] {
  const out: Comparison[] = [];
  for (const ours of phases.filter((p) => p.controller === 'm87')) {
    const base = find(phases, 'noop', ours.rate);
    if (!base) continue;
    out.push({
      rate: ours.rate,
      throughputRatio: ratio(ours.sustainedPerSecond, base.sustainedPerSecond),
      p99Ratio: ratio(ours.latencyMs.p99, base.latencyMs.p99),
      cpuPerDecisionRatio: ratio(ours.controllerProcess.cpuMsPerDecision, base.controllerProcess.cpuMsPerDecision),
    });
  }
  return out;
}

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a');

/** "…, 12 undecided" when a phase did not finish: its latency figures leave those out and cannot pass. */
function incomplete(p: PhaseResult): string {
  return p.undecided > 0 ? ` (${p.undecided} undecided)` : '';
}

function check(target: string, value: number | undefined, ok: (v: number) => boolean, show: (v: number) => string, extra = '', blocked = false): TargetCheck {
  if (value === undefined) return { target, actual: 'not measured', pass: null };
  return { target, actual: `${show(value)}${extra}`, pass: !blocked && Number.isFinite(value) && ok(value) };
}

export function evaluateTargets(r: Pick<BenchResults, 'phases' | 'comparisons' | 'memory' | 'engine'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  const max = find(r.phases, 'm87', 'max');
  out.push(
    check(
      `>= ${TARGETS.sustainedPerSecond} decisions/s sustained`,
      max?.sustainedPerSecond,
      (v) => v >= TARGETS.sustainedPerSecond,
      (v) => `${v.toFixed(1)}/s`,
      max ? incomplete(max) : '',
      (max?.undecided ?? 0) > 0,
    ),
  );
  const cmp = r.comparisons.find((c) => c.rate === 'max');
  out.push(
    check(`throughput >= ${TARGETS.throughputVsBaseline} x baseline`, cmp?.throughputRatio, (v) => v >= TARGETS.throughputVsBaseline, (v) => `${v.toFixed(2)} x`),
  );
  for (const [rate, limit] of Object.entries(TARGETS.p99MsByRate)) {
    const p = find(r.phases, 'm87', Number(rate));
    out.push(check(`p99 decision latency <= ${ms(limit)} at ${rate}/s`, p?.latencyMs.p99, (v) => v <= limit, ms, p ? incomplete(p) : '', (p?.undecided ?? 0) > 0));
  }
  for (const p of r.phases.filter((x) => x.controller === 'm87' && x.rate !== 'max')) {
    const missing = p.pod ? p.pod.expected - p.pod.observed : 0;
    out.push(
      check(
        `proposal -> Pod p99 <= ${ms(TARGETS.podP99Ms)} at ${rateLabel(p.rate)}`,
        p.pod?.latencyMs.p99,
        (v) => v <= TARGETS.podP99Ms,
        ms,
        missing > 0 ? ` (${missing} Pods missing)` : '',
        missing > 0,
      ),
    );
  }
  const m = r.memory;
  out.push(
    check(
      `RSS <= ${TARGETS.rssMiB} MiB at ${TARGETS.rssAtProposals.toLocaleString('en-US')} proposals`,
      m?.rssMiB,
      (v) => v <= TARGETS.rssMiB,
      (v) => `${v.toFixed(0)} MiB`,
      m && m.proposals !== TARGETS.rssAtProposals ? ` (at ${m.proposals.toLocaleString('en-US')} proposals)` : '',
      m !== undefined && (m.proposals < TARGETS.rssAtProposals || m.undecided > 0),
    ),
  );
  const e = r.engine;
  out.push(
    check(
      `engine >= ${(e?.targets.opsPerSecond ?? 100_000).toLocaleString('en-US')} decisions/s (one core)`,
      e?.opsPerSecond,
      (v) => v >= (e?.targets.opsPerSecond ?? Infinity),
      (v) => `${Math.round(v).toLocaleString('en-US')}/s`,
    ),
  );
  out.push(
    check(
      `engine p99 < ${e?.targets.p99Microseconds ?? 50} us per decision`,
      e?.latencyMicroseconds.p99,
      (v) => v < (e?.targets.p99Microseconds ?? -Infinity),
      (v) => `${v.toFixed(1)} us`,
    ),
  );
  return out;
}
