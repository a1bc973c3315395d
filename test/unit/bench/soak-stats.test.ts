import { describe, expect, it } from 'vitest';
import { judgeFlatness, listTotal, promSum, retentionTokensPerProposal, slope, soakRetentionRate } from '../../../bench/soak-stats.ts';

describe('soak retention rate', () => {
  it('costs 3 deletions per ALLOW (Pod, NetworkPolicy, Proposal) and 1 per other tree: 2.4 per proposal of the 70/20/10 mix', () => {
    expect(retentionTokensPerProposal()).toBeCloseTo(2.4, 10);
  });

  it('keeps up with the arrival rate twice over, within the controller flag range', () => {
    expect(soakRetentionRate(10)).toBe(48);
    expect(soakRetentionRate(30)).toBe(144);
    expect(soakRetentionRate(10, 1)).toBe(24);
    expect(soakRetentionRate(1000)).toBe(1000);
  });
});

describe('promSum', () => {
  const text = [
    '# HELP m87_retention_deletions_total Deletions made by retention',
    '# TYPE m87_retention_deletions_total counter',
    'm87_retention_deletions_total{kind="Pod",reason="KeepForElapsed"} 70',
    'm87_retention_deletions_total{kind="NetworkPolicy",reason="KeepForElapsed"} 69',
    'm87_retention_deletions_total{kind="Proposal",reason="HistoryTTL"} 95',
    'm87_retention_deletions_total{kind="Proposal",reason="NamespaceCap"} 5',
    'm87_retention_deletions_total_extra 1000',
    'nodejs_heap_size_used_bytes 123456789',
    'etcd_mvcc_db_total_size_in_bytes 4.194304e+07',
  ].join('\n');

  it('sums every sample of the metric, or those whose labels match', () => {
    expect(promSum(text, 'm87_retention_deletions_total')).toBe(239);
    expect(promSum(text, 'm87_retention_deletions_total', { kind: 'Proposal' })).toBe(100);
    expect(promSum(text, 'm87_retention_deletions_total', { kind: 'Pod', reason: 'KeepForElapsed' })).toBe(70);
    expect(promSum(text, 'nodejs_heap_size_used_bytes')).toBe(123456789);
    expect(promSum(text, 'etcd_mvcc_db_total_size_in_bytes')).toBe(41943040);
  });

  it('is NaN when the metric is absent (not 0: a missing figure is not a measured zero)', () => {
    expect(promSum(text, 'm87_nothing')).toBeNaN();
    expect(promSum('', 'nodejs_heap_size_used_bytes')).toBeNaN();
    expect(promSum(text, 'm87_retention_deletions_total', { kind: 'Job' })).toBeNaN();
  });
});

describe('listTotal', () => {
  it('adds remainingItemCount to the page', () => {
    expect(listTotal({ items: [{}], metadata: { remainingItemCount: 41, continue: 'x' } })).toBe(42);
    expect(listTotal({ items: [], metadata: {} })).toBe(0);
    expect(listTotal({ items: [{}] })).toBe(1);
  });

  it('is NaN when more pages exist but the server does not say how many', () => {
    expect(listTotal({ items: [{}], metadata: { continue: 'x' } })).toBeNaN();
  });
});

describe('judgeFlatness', () => {
  const curve = (f: (i: number) => number, n = 9) => Array.from({ length: n }, (_, i) => ({ x: (i + 1) * 5000, y: f(i) }));

  it('a curve that fills, then stays level, is FLAT (the first third is the fill)', () => {
    const ys = [100, 300, 400, 402, 398, 401, 399, 403, 400];
    const f = judgeFlatness(curve((i) => ys[i]!));
    expect(f.verdict).toBe('FLAT');
    expect(f.middleMean).toBeCloseTo(400.33, 1);
    expect(f.lastMean).toBeCloseTo(400.67, 1);
    expect(Math.abs(f.slopePer10k)).toBeLessThan(2);
  });

  it('a curve that keeps rising is GROWING, with its slope per 10,000 proposals', () => {
    const f = judgeFlatness(curve((i) => 100 + 50 * i));
    expect(f.verdict).toBe('GROWING');
    expect(f.slopePer10k).toBeCloseTo(100, 6);
  });

  it('a curve that falls is SHRINKING', () => {
    expect(judgeFlatness(curve((i) => 1000 - 100 * i)).verdict).toBe('SHRINKING');
  });

  it('the absolute tolerance covers noise on small values', () => {
    const ys = [0, 2, 3, 2, 3, 2, 6, 7, 6];
    expect(judgeFlatness(curve((i) => ys[i]!)).verdict).toBe('GROWING');
    expect(judgeFlatness(curve((i) => ys[i]!), { absTolerance: 5 }).verdict).toBe('FLAT');
  });

  it('needs three usable samples; NaN samples do not count', () => {
    expect(judgeFlatness([{ x: 1, y: 1 }, { x: 2, y: 2 }]).verdict).toBe('TOO FEW SAMPLES');
    expect(judgeFlatness([{ x: 1, y: 1 }, { x: 2, y: NaN }, { x: 3, y: 1 }]).verdict).toBe('TOO FEW SAMPLES');
  });

  it('slope is the least-squares one', () => {
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }])).toBe(2);
    expect(slope([{ x: 1, y: 1 }])).toBe(0);
    expect(slope([{ x: 1, y: 1 }, { x: 1, y: 5 }])).toBe(0);
  });
});
