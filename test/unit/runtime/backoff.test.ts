import { describe, expect, it } from 'vitest';
import { applyJitter, Backoff, exponentialDelay, sleep } from '../../../src/runtime/backoff.ts';
import { TokenBucketRateLimiter, MaxOfRateLimiter, ItemExponentialFailureRateLimiter } from '../../../src/runtime/rate-limiter.ts';

describe('Backoff', () => {
  it('doubles up to the cap and resets', () => {
    const opts = { initialMs: 800, maxMs: 30_000 };
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => exponentialDelay(n, opts))).toEqual([800, 1600, 3200, 6400, 12800, 25600, 30000]);
    expect(exponentialDelay(10_000, opts)).toBe(30_000);
    const b = new Backoff({ ...opts, jitter: 0 });
    expect([b.next(), b.next(), b.next()]).toEqual([800, 1600, 3200]);
    b.reset();
    expect(b.next()).toBe(800);
  });

  it('jitters within [delay * (1 - jitter), delay]', () => {
    expect(applyJitter(1000, 0.5, () => 0)).toBe(500);
    expect(applyJitter(1000, 0.5, () => 0.999999)).toBeCloseTo(1000, 2);
    const b = new Backoff({ initialMs: 100, maxMs: 100, jitter: 0.5 });
    for (let i = 0; i < 100; i++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(50);
      expect(d).toBeLessThanOrEqual(100);
    }
  });

  it('rejects invalid options', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 1 })).toThrow(/initialMs/);
    expect(() => new Backoff({ initialMs: 10, maxMs: 1 })).toThrow(/maxMs/);
    expect(() => new Backoff({ initialMs: 1, maxMs: 10, jitter: 2 })).toThrow(/jitter/);
  });

  it('sleep resolves false when aborted', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    expect(await p).toBe(false);
    expect(await sleep(1)).toBe(true);
  });
});

describe('TokenBucketRateLimiter', () => {
  it('allows the burst, then spaces reservations at 1/qps', () => {
    let now = 0;
    const tb = new TokenBucketRateLimiter(10, 3, () => now);
    expect([tb.when('a'), tb.when('b'), tb.when('c')]).toEqual([0, 0, 0]);
    expect(tb.when('d')).toBeCloseTo(100);
    expect(tb.when('e')).toBeCloseTo(200);
    now = 1000; // refills, capped at the burst
    expect(tb.when('f')).toBe(0);
  });

  it('MaxOf takes the longest delay and forgets in all limiters', () => {
    let now = 0;
    const rl = new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(5, 1000), new TokenBucketRateLimiter(1, 1, () => now));
    expect(rl.when('k')).toBe(5);
    expect(rl.when('k')).toBeCloseTo(1000);
    now = 10_000;
    rl.forget('k');
    expect(rl.numRequeues('k')).toBe(0);
    expect(rl.when('k')).toBe(5);
  });
});
