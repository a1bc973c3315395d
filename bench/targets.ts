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

export function apiserverMsPerDecision(p: PhaseResult): number {
  return p.decided > 0 ? (p.apiserverCpuSeconds * 1000) / p.decided : NaN;
}

/** Issue 16 (lifetime and cost): relative to the no-op baseline of the same run. */
export const COST_TARGETS = {
  throughputVsBaseline: 0.9,
  /** proposal -> Pod p99 at 50/s, ms. */
  podP99MsAt50: 1000,
  /** decision p99 ÷ the baseline's, at 20/s and 50/s. */
  p99VsBaseline: 1.5,
  controllerCpuMsPerDecision: 5,
  apiserverCpuVsBaseline: 1.3,
  rssMiB: 150,
} as const;

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
      apiserverCpuPerDecisionRatio: ratio(apiserverMsPerDecision(ours), apiserverMsPerDecision(base)),
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
  out.push(...costTargets(r));
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

/** The issue 16 targets: ratios to the baseline, Pod latency at 50/s, CPU per decision, requests per decision, RSS. */
function costTargets(r: Pick<BenchResults, 'phases' | 'comparisons' | 'memory'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  const x = (v: number) => `${v.toFixed(2)} x`;
  const t = COST_TARGETS;
  const max = r.comparisons.find((c) => c.rate === 'max');
  out.push(check(`[16] throughput >= ${t.throughputVsBaseline} x baseline`, max?.throughputRatio, (v) => v >= t.throughputVsBaseline, x));
  const at50 = find(r.phases, 'm87', 50);
  const missing50 = at50?.pod ? at50.pod.expected - at50.pod.observed : 0;
  out.push(
    check(`[16] proposal -> Pod p99 <= ${ms(t.podP99MsAt50)} at 50/s`, at50?.pod?.latencyMs.p99, (v) => v <= t.podP99MsAt50, ms, missing50 > 0 ? ` (${missing50} Pods missing)` : '', missing50 > 0),
  );
  for (const rate of [20, 50]) {
    const c = r.comparisons.find((k) => k.rate === rate);
    out.push(check(`[16] decision p99 <= ${t.p99VsBaseline} x baseline at ${rate}/s`, c?.p99Ratio, (v) => v <= t.p99VsBaseline, x));
  }
  const ours = r.phases.filter((p) => p.controller === 'm87' && p.decided > 0);
  const worstCpu = ours.length > 0 ? Math.max(...ours.map((p) => p.controllerProcess.cpuMsPerDecision)) : undefined;
  out.push(check(`[16] controller CPU <= ${t.controllerCpuMsPerDecision} ms per decision (every phase)`, worstCpu, (v) => v <= t.controllerCpuMsPerDecision, (v) => `${v.toFixed(2)} ms (worst phase)`));
  const worstApi = r.comparisons.length > 0 ? Math.max(...r.comparisons.map((c) => c.apiserverCpuPerDecisionRatio)) : undefined;
  out.push(check(`[16] API server CPU per decision <= ${t.apiserverCpuVsBaseline} x baseline (every rate)`, worstApi, (v) => v <= t.apiserverCpuVsBaseline, (v) => `${x(v)} (worst rate)`));
  const withRequests = ours.filter((p) => p.requests !== undefined);
  const worstReq = withRequests.length > 0 ? Math.max(...withRequests.map((p) => p.requests!.controllerPerDecision - p.requests!.budgetPerDecision)) : undefined;
  out.push(
    check(
      '[16] controller requests per decision within budget (6 per ALLOW, 2 per other)',
      worstReq,
      (v) => v <= 0,
      (v) => `${v <= 0 ? 'within' : 'over'} by ${Math.abs(v).toFixed(2)} per decision (worst phase)`,
    ),
  );
  const m = r.memory;
  out.push(
    check(
      `[16] RSS <= ${t.rssMiB} MiB at ${TARGETS.rssAtProposals.toLocaleString('en-US')} proposals`,
      m?.rssMiB,
      (v) => v <= t.rssMiB,
      (v) => `${v.toFixed(0)} MiB`,
      m && m.proposals !== TARGETS.rssAtProposals ? ` (at ${m.proposals.toLocaleString('en-US')} proposals)` : '',
      m !== undefined && (m.proposals < TARGETS.rssAtProposals || m.undecided > 0),
    ),
  );
  return out;
}
