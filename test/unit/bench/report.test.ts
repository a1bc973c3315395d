import { describe, expect, it } from 'vitest';
import { formatTable, num, renderReport } from '../../../bench/report.ts';
import type { BenchResults, PhaseResult } from '../../../bench/results.ts';
import { summarize } from '../../../bench/stats.ts';
import { compare, evaluateTargets } from '../../../bench/targets.ts';

function phase(over: Partial<PhaseResult> & Pick<PhaseResult, 'controller' | 'rate'>): PhaseResult {
  return {
    namespace: `bench-${over.controller}`,
    n: 100,
    loader: { created: 100, errors: 0, retries: 0, createRate: 150, maxLagMs: 0, lateOver50ms: 0, firstErrors: [] },
    decided: 100,
    undecided: 0,
    sustainedPerSecond: 120,
    overallPerSecond: 110,
    latencyMs: summarize([10, 20, 30]),
    latencyFromCreationTimestampMs: summarize([500, 900]),
    outcomes: { ALLOW: 70, DENY: 20, REQUIRE_HUMAN: 10 },
    unexpectedOutcomes: 0,
    controllerProcess: { cpuSeconds: 1, cpuMsPerDecision: 10, rssMiB: 100, peakRssMiB: 120 },
    apiserverCpuSeconds: 2,
    etcdCpuSeconds: 0.5,
    durationSeconds: 3,
    loadAverage: { start: [1, 1, 1], end: [1, 1, 1] },
    ...over,
  };
}

const ENGINE = {
  opsPerSecond: 150_000,
  opsPerCpuSecond: 160_000,
  cpuShareDuringRun: 0.9,
  iterations: 1000,
  latencyMicroseconds: { p50: 5, p90: 8, p99: 40, p999: 100, max: 900 },
  targets: { opsPerSecond: 100_000, p99Microseconds: 50 },
};

function results(phases: PhaseResult[], extra: Partial<BenchResults> = {}): BenchResults {
  const comparisons = compare(phases);
  const base = { phases, comparisons, memory: extra.memory, engine: extra.engine };
  return {
    benchmark: 'm87 end-to-end',
    startedAt: '2025-06-01T12:00:00.000Z',
    finishedAt: '2025-06-01T12:10:00.000Z',
    host: { node: 'v24.0.0', cpus: 2, cpuModel: 'Test CPU', loadAverageAtStart: [0.5, 0.25, 0.125] },
    settings: {
      n: 100,
      warmup: 10,
      rates: [20],
      parts: ['e2e', 'baseline'],
      memoryN: 10_000,
      submitters: 8,
      concurrency: 16,
      workers: 8,
      controllerLogLevel: 'info',
      mix: '70/20/10',
      rateLimitPerSubmitterPerMinute: 10000,
      processNode: false,
      notes: ['a note'],
    },
    phases,
    comparisons,
    targets: evaluateTargets(base),
    logDir: '/tmp/x',
    ...extra,
  };
}

describe('formatTable', () => {
  it('pads every column to its widest cell, numbers to the right, text to the left', () => {
    const t = formatTable(['name', 'value'], [['a', '1.5'], ['longer', '100 ms'], ['c', '-']]);
    expect(t.split('\n')).toEqual(['name    value', '------  ------', 'a          1.5', 'longer  100 ms', 'c            -']);
  });

  it('tolerates short rows', () => {
    expect(formatTable(['a', 'b'], [['x']]).split('\n')[2]).toBe('x');
  });
});

describe('num', () => {
  it('shows "-" for anything that is not a finite number', () => {
    expect(num(1.234, 1)).toBe('1.2');
    expect(num(NaN)).toBe('-');
    expect(num(undefined)).toBe('-');
    expect(num(Infinity)).toBe('-');
  });
});

describe('targets', () => {
  it('passes a run that meets every target', () => {
    const phases = [
      phase({ controller: 'm87', rate: 'max', sustainedPerSecond: 120 }),
      phase({ controller: 'noop', rate: 'max', sustainedPerSecond: 140 }),
      phase({ controller: 'm87', rate: 20, latencyMs: summarize([100, 240]), pod: { expected: 70, observed: 70, latencyMs: summarize([300, 450]) } }),
      phase({ controller: 'm87', rate: 50, latencyMs: summarize([900]), pod: { expected: 70, observed: 70, latencyMs: summarize([480]) } }),
    ];
    const memory = { proposals: 10_000, decided: 10_000, undecided: 0, podsObserved: 7000, rssMiB: 180, peakRssMiB: 190, objects: {}, objectsJsonMiB: 50, managedFieldsJsonMiB: 10, sustainedPerSecond: 100, durationSeconds: 100 };
    const checks = evaluateTargets({ phases, comparisons: compare(phases), memory, engine: ENGINE }).filter((c) => !c.target.startsWith('[16]'));
    expect(checks.map((c) => [c.target, c.pass])).toEqual([
      ['>= 100 decisions/s sustained', true],
      ['throughput >= 0.8 x baseline', true],
      ['p99 decision latency <= 250 ms at 20/s', true],
      ['p99 decision latency <= 1000 ms at 50/s', true],
      ['proposal -> Pod p99 <= 500 ms at 20/s', true],
      ['proposal -> Pod p99 <= 500 ms at 50/s', true],
      ['RSS <= 200 MiB at 10,000 proposals', true],
      ['engine >= 100,000 decisions/s (one core)', true],
      ['engine p99 < 50 us per decision', true],
    ]);
    expect(checks[1]?.actual).toBe('0.86 x');
  });

  it('misses what is over a limit, and never passes a phase that left proposals undecided or Pods missing', () => {
    const phases = [
      phase({ controller: 'm87', rate: 'max', sustainedPerSecond: 150, undecided: 3 }),
      phase({ controller: 'noop', rate: 'max', sustainedPerSecond: 100 }),
      phase({ controller: 'm87', rate: 20, latencyMs: summarize([251]), pod: { expected: 70, observed: 69, latencyMs: summarize([10]) } }),
    ];
    const checks = evaluateTargets({ phases, comparisons: compare(phases), memory: undefined, engine: undefined });
    const byName = new Map(checks.map((c) => [c.target, c]));
    expect(byName.get('>= 100 decisions/s sustained')).toEqual({ target: '>= 100 decisions/s sustained', actual: '150.0/s (3 undecided)', pass: false });
    expect(byName.get('p99 decision latency <= 250 ms at 20/s')?.pass).toBe(false);
    expect(byName.get('proposal -> Pod p99 <= 500 ms at 20/s')).toMatchObject({ actual: '10 ms (1 Pods missing)', pass: false });
    expect(byName.get('p99 decision latency <= 1000 ms at 50/s')).toMatchObject({ actual: 'not measured', pass: null });
    expect(byName.get('RSS <= 200 MiB at 10,000 proposals')?.pass).toBeNull();
    expect(byName.get('engine p99 < 50 us per decision')?.pass).toBeNull();
  });

  it('does not pass the memory target measured at fewer proposals than it is stated for', () => {
    const memory = { proposals: 500, decided: 500, undecided: 0, podsObserved: 350, rssMiB: 90, peakRssMiB: 95, objects: {}, objectsJsonMiB: 5, managedFieldsJsonMiB: 1, sustainedPerSecond: 80, durationSeconds: 10 };
    const rss = evaluateTargets({ phases: [], comparisons: [], memory, engine: undefined }).find((c) => c.target.startsWith('RSS'));
    expect(rss).toEqual({ target: 'RSS <= 200 MiB at 10,000 proposals', actual: '90 MiB (at 500 proposals)', pass: false });
  });

  it('compares ours with the baseline at the same rate only', () => {
    const phases = [
      phase({ controller: 'm87', rate: 20, sustainedPerSecond: 20, latencyMs: summarize([300]) }),
      phase({ controller: 'noop', rate: 20, sustainedPerSecond: 25, latencyMs: summarize([100]), controllerProcess: { cpuSeconds: 1, cpuMsPerDecision: 4, rssMiB: 1, peakRssMiB: 1 } }),
      phase({ controller: 'm87', rate: 50 }),
    ];
    expect(compare(phases)).toEqual([{ rate: 20, throughputRatio: 0.8, p99Ratio: 3, cpuPerDecisionRatio: 2.5, apiserverCpuPerDecisionRatio: 1 }]);
  });

  it('checks the issue 16 cost targets against the baseline of the same run', () => {
    const requests = (controllerPerDecision: number, budgetPerDecision: number) => ({
      total: 900,
      bySource: { controller: 480, submitter: 100, scheduler: 200, 'garbage-collector': 0, leases: 10, informers: 0, other: 0 },
      rows: {},
      decided: 100,
      controllerPerDecision,
      totalPerDecision: 9,
      budgetPerDecision,
      rowsPerDecision: {},
    });
    const cpu = (ms: number) => ({ cpuSeconds: ms / 10, cpuMsPerDecision: ms, rssMiB: 80, peakRssMiB: 90 });
    const phases = [
      phase({ controller: 'm87', rate: 'max', sustainedPerSecond: 95, controllerProcess: cpu(4), apiserverCpuSeconds: 2.5, requests: requests(4.8, 4.8) }),
      phase({ controller: 'noop', rate: 'max', sustainedPerSecond: 100, controllerProcess: cpu(2), apiserverCpuSeconds: 2 }),
      phase({ controller: 'm87', rate: 20, latencyMs: summarize([140]), controllerProcess: cpu(4.5), apiserverCpuSeconds: 2.6, requests: requests(5, 4.8) }),
      phase({ controller: 'noop', rate: 20, latencyMs: summarize([100]), controllerProcess: cpu(2), apiserverCpuSeconds: 2 }),
      phase({ controller: 'm87', rate: 50, latencyMs: summarize([160]), pod: { expected: 70, observed: 70, latencyMs: summarize([900]) }, controllerProcess: cpu(6) }),
      phase({ controller: 'noop', rate: 50, latencyMs: summarize([100]), controllerProcess: cpu(2) }),
    ];
    const memory = { proposals: 10_000, decided: 10_000, undecided: 0, podsObserved: 7000, rssMiB: 140, peakRssMiB: 150, objects: {}, objectsJsonMiB: 50, managedFieldsJsonMiB: 0, sustainedPerSecond: 100, durationSeconds: 100 };
    const checks = evaluateTargets({ phases, comparisons: compare(phases), memory, engine: undefined }).filter((c) => c.target.startsWith('[16]'));
    expect(checks.map((c) => [c.target, c.actual, c.pass])).toEqual([
      ['[16] throughput >= 0.9 x baseline', '0.95 x', true],
      ['[16] proposal -> Pod p99 <= 1000 ms at 50/s', '900 ms', true],
      ['[16] decision p99 <= 1.5 x baseline at 20/s', '1.40 x', true],
      ['[16] decision p99 <= 1.5 x baseline at 50/s', '1.60 x', false],
      ['[16] controller CPU <= 5 ms per decision (every phase)', '6.00 ms (worst phase)', false],
      ['[16] API server CPU per decision <= 1.3 x baseline (every rate)', '1.30 x (worst rate)', true],
      ['[16] controller requests per decision within budget (6 per ALLOW, 2 per other)', 'over by 0.20 per decision (worst phase)', false],
      ['[16] RSS <= 150 MiB at 10,000 proposals', '140 MiB', true],
    ]);
  });
});

describe('renderReport', () => {
  it('shows each phase, the comparison, the engine and the targets', () => {
    const text = renderReport(
      results([phase({ controller: 'm87', rate: 'max', pod: { expected: 70, observed: 70, latencyMs: summarize([400]) } }), phase({ controller: 'noop', rate: 'max' })], { engine: ENGINE }),
    );
    expect(text).toContain('N=100 per phase, 8 submitters');
    expect(text).toContain('rate limit raised to 10000/min per submitter');
    expect(text).toMatch(/^max\s+m87\s+100\/100\s+150\.0\s+120\.0\s+20\s+30\s+30\s+30\s+900\s+400\s+400\s+10\.00\s+20\.00\s+100$/m);
    expect(text).toMatch(/^max\s+baseline\s+100\/100 .* - {2,}-\s+10\.00\s+20\.00\s+100$/m);
    expect(text).toMatch(/^max\s+1\.00 x\s+1\.00 x\s+1\.00 x\s+1\.00 x$/m);
    expect(text).toContain('Engine (bench/engine.ts, one core): 150,000 decisions/s');
    expect(text).toMatch(/^>= 100 decisions\/s sustained\s+120\.0\/s\s+pass$/m);
    expect(text).toMatch(/^RSS <= 200 MiB at 10,000 proposals\s+not measured\s+not run$/m);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('shows the memory figure with what was cached', () => {
    const memory = {
      proposals: 10_000,
      decided: 10_000,
      undecided: 0,
      podsObserved: 7000,
      rssMiB: 180.4,
      peakRssMiB: 190,
      objects: { Proposals: 10_000, Pods: 7000 },
      objectsJsonMiB: 150,
      managedFieldsJsonMiB: 40,
      sustainedPerSecond: 90,
      durationSeconds: 120,
    };
    const text = renderReport(results([], { memory }));
    expect(text).toContain('Memory: controller RSS 180 MiB (peak 190 MiB) with 10,000 of 10,000 proposals decided');
    expect(text).toContain('cached: 10000 Proposals, 7000 Pods; 150 MiB as JSON, of which 40 MiB metadata.managedFields');
    expect(text).toMatch(/^RSS <= 200 MiB at 10,000 proposals\s+180 MiB\s+pass$/m);
  });

  it('flags phases with undecided proposals, wrong outcomes or loader errors', () => {
    const text = renderReport(
      results([phase({ controller: 'm87', rate: 20, undecided: 2, unexpectedOutcomes: 1, loader: { created: 100, errors: 1, retries: 0, createRate: 20, maxLagMs: 1, lateOver50ms: 0, firstErrors: ['HTTP 403: forbidden'] } })]),
    );
    expect(text).toContain('! 20/s m87: 2 undecided, 1 unexpected outcomes, 1 loader errors (HTTP 403: forbidden)');
  });
});
