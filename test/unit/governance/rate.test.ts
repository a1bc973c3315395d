import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { checkRate } from '../../../src/governance/rate.ts';

const NOW = 1_000_000_000;
const times = (n: number, start: number, step = 1000) => Array.from({ length: n }, (_, i) => start + i * step);

describe('checkRate', () => {
  it('allows up to the limit per sliding minute (default 30)', () => {
    expect(checkRate(times(29, NOW - 29_000), NOW, DEFAULT_POLICY_SPEC)).toEqual({ allowed: true });
  });

  it('throttles at the limit and says when a slot frees up', () => {
    expect(checkRate(times(30, NOW - 50_000), NOW, DEFAULT_POLICY_SPEC)).toEqual({ allowed: false, retryAfterMs: 10_000 });
    // 32 in the window: three must leave before the 31st fits.
    expect(checkRate(times(32, NOW - 59_000), NOW, DEFAULT_POLICY_SPEC)).toEqual({ allowed: false, retryAfterMs: 3_000 });
  });

  it('ignores decisions older than a minute', () => {
    expect(checkRate([...times(100, NOW - 500_000), ...times(29, NOW - 29_000)], NOW, DEFAULT_POLICY_SPEC)).toEqual({ allowed: true });
    expect(checkRate(times(30, NOW - 60_000), NOW, DEFAULT_POLICY_SPEC)).toEqual({ allowed: true }); // the oldest just left
  });

  it('counts future and unreadable times (fail closed)', () => {
    const r = checkRate([NOW + 5000, Number.NaN], NOW, { rateLimit: { proposalsPerMinute: 2 } });
    expect(r.allowed).toBe(false);
  });
});
