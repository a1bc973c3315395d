import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../../bench/args.ts';
import { planPhases } from '../../../bench/run.ts';

describe('bench flags', () => {
  it('defaults to the issue: N 2000, rates 20 and 50, every part, 10,000 for memory, latest.json', () => {
    const o = parseBenchArgs([]);
    expect(o).toMatchObject({ n: 2000, rates: [20, 50], parts: ['e2e', 'baseline', 'memory', 'engine'], memoryN: 10_000, memoryRate: 'max', out: 'bench/results/latest.json' });
    expect(o).toMatchObject({ soakN: 100_000, soakRate: 5, soakSample: 5000, soakRetentionRate: undefined, apiserverProfileDir: undefined, apiserverProfileSeconds: 30 });
    expect(parseBenchArgs(['--soak', '--soak-n', '5000', '--soak-sample', '500', '--soak-rate', '25']).parts).toEqual(['e2e', 'baseline', 'memory', 'engine', 'soak']);
    expect(parseBenchArgs(['--parts', 'soak', '--soak-n', '5000'])).toMatchObject({ parts: ['soak'], soakN: 5000 });
    expect(o.controllerLogLevel).toBe('info');
    expect(o.warmup).toBe(100);
    expect(o.workers).toBe(8);
    expect(o.profileDir).toBeUndefined();
  });

  it('parses every flag', () => {
    const o = parseBenchArgs(['--n', '300', '--rates', '10, 30,30', '--parts', 'e2e,memory', '--memory-n', '500', '--memory-rate', '25', '--out', '/tmp/x.json', '--submitters', '4', '--profile', '/tmp/p', '--engine-args=--iterations 1000']);
    expect(o).toMatchObject({ n: 300, rates: [10, 30], parts: ['e2e', 'memory'], memoryN: 500, memoryRate: 25, out: '/tmp/x.json', submitters: 4, profileDir: '/tmp/p', engineArgs: ['--iterations', '1000'] });
  });

  it('allows no fixed rates (only the as-fast-as-possible phase) and no warm-up', () => {
    expect(parseBenchArgs(['--rates', '']).rates).toEqual([]);
    expect(parseBenchArgs(['--warmup', '0']).warmup).toBe(0);
    expect(() => parseBenchArgs(['--warmup', '-1'])).toThrow(/--warmup/);
  });

  it('names the flag that is wrong', () => {
    expect(() => parseBenchArgs(['--n', '0'])).toThrow(/--n/);
    expect(() => parseBenchArgs(['--n', '1.5'])).toThrow(/--n/);
    expect(() => parseBenchArgs(['--rates', '20,fast'])).toThrow(/--rates.*fast/);
    expect(() => parseBenchArgs(['--parts', 'e2e,speed'])).toThrow(/--parts.*speed/);
    expect(() => parseBenchArgs(['--parts', ','])).toThrow(/--parts/);
    expect(() => parseBenchArgs(['--soak-rate', '0'])).toThrow(/--soak-rate/);
    expect(() => parseBenchArgs(['--memory-rate', 'fast'])).toThrow(/--memory-rate.*fast/);
    expect(() => parseBenchArgs(['--memory-rate', '-5'])).toThrow(/--memory-rate/);
    expect(() => parseBenchArgs(['--soak-sample', '0'])).toThrow(/--soak-sample/);
    expect(() => parseBenchArgs(['--soak-retention-rate', '5000'])).toThrow(/--soak-retention-rate/);
    expect(() => parseBenchArgs(['--controller-log-level', 'loud'])).toThrow(/--controller-log-level/);
    expect(() => parseBenchArgs(['--bogus'])).toThrow(/bogus/);
  });
});

describe('phase plan', () => {
  it('runs ours and the baseline back to back at each rate, fastest first, each in its own namespace', () => {
    const plan = planPhases({ parts: ['e2e', 'baseline'], rates: [20, 2.5] });
    expect(plan.map((p) => `${p.controller}@${p.rate}`)).toEqual(['m87@max', 'noop@max', 'm87@20', 'noop@20', 'm87@2.5', 'noop@2.5']);
    expect(new Set(plan.map((p) => p.namespace)).size).toBe(plan.length);
    for (const p of plan) expect(p.namespace).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  it('runs only what the parts ask for', () => {
    expect(planPhases({ parts: ['baseline'], rates: [20] }).map((p) => p.controller)).toEqual(['noop', 'noop']);
    expect(planPhases({ parts: ['memory', 'engine'], rates: [20] })).toEqual([]);
  });
});
