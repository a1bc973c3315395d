import { describe, expect, it } from 'vitest';
import { overallRate, percentile, ratio, summarize, sustainedRate } from '../../../bench/stats.ts';

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('percentile (nearest rank)', () => {
  it('picks the smallest value with at least p % of the samples at or below it', () => {
    const v = oneTo(100);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 90)).toBe(90);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile(v, 100)).toBe(100);
    expect(percentile(v, 0)).toBe(1);
  });

  it('rounds the rank up on small samples, so p99 of ten samples is the maximum', () => {
    const v = oneTo(10);
    expect(percentile(v, 99)).toBe(10);
    expect(percentile(v, 50)).toBe(5);
    expect(percentile(v, 51)).toBe(6);
    expect(percentile([7], 50)).toBe(7);
  });

  it('is NaN without samples and refuses p outside 0..100', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(/0\.\.100/);
    expect(() => percentile([1], NaN)).toThrow(/0\.\.100/);
  });
});

describe('summarize', () => {
  it('sorts its input (without changing it) and reports p50/p90/p99/max/mean', () => {
    const input = [5, 1, 4, 2, 3];
    expect(summarize(input)).toEqual({ n: 5, p50: 3, p90: 5, p99: 5, max: 5, mean: 3 });
    expect(input).toEqual([5, 1, 4, 2, 3]);
  });

  it('sorts numerically, not as strings', () => {
    expect(summarize([100, 9, 20]).p50).toBe(20);
  });

  it('is all NaN for no samples', () => {
    const s = summarize([]);
    expect(s.n).toBe(0);
    for (const v of [s.p50, s.p90, s.p99, s.max, s.mean]) expect(v).toBeNaN();
  });
});

describe('sustainedRate', () => {
  it('is completions per second over the middle 80 % of a steady run', () => {
    // one completion every 10 ms = 100/s, whatever the order they are given in
    const times = oneTo(101).map((i) => 1000 + i * 10).reverse();
    expect(sustainedRate(times)).toBeCloseTo(100, 6);
  });

  it('ignores a slow start and a slow tail', () => {
    const steady = oneTo(100).map((i) => 5000 + i * 20); // 50/s
    const times = [0, 1000, 2000, ...steady, 60_000, 90_000]; // stragglers at both ends
    expect(sustainedRate(times)).toBeCloseTo(50, 0);
  });

  it('is NaN with fewer than ten completions or no elapsed time', () => {
    expect(sustainedRate(oneTo(9))).toBeNaN();
    expect(sustainedRate(Array.from({ length: 20 }, () => 5))).toBeNaN();
    expect(() => sustainedRate([1, 2], 0.9, 0.1)).toThrow(RangeError);
  });
});

describe('overallRate and ratio', () => {
  it('overallRate counts every completion from the start to the last one', () => {
    expect(overallRate([500, 1000, 2000], 0)).toBeCloseTo(1.5, 9);
    expect(overallRate([], 0)).toBeNaN();
    expect(overallRate([5], 5)).toBeNaN();
  });

  it('ratio is NaN instead of Infinity or garbage', () => {
    expect(ratio(3, 4)).toBe(0.75);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(NaN, 1)).toBeNaN();
    expect(ratio(1, Infinity)).toBeNaN();
  });
});
