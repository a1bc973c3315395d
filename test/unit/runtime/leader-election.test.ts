import { describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import {
  formatMicroTime,
  leaseExpiredForCandidate,
  LeaderElector,
  NotLeaderError,
  validateTimings,
  withinRenewDeadline,
  DEFAULT_TIMINGS,
} from '../../../src/runtime/leader-election.ts';

describe('leaseExpiredForCandidate', () => {
  const base = { leaseDurationSeconds: 15, observedAtMonoMs: 1000, fallbackDurationMs: 15_000 };

  it('treats a lease without holder as free', () => {
    expect(leaseExpiredForCandidate({ ...base, holderIdentity: '', nowMonoMs: 1000 })).toBe(true);
    expect(leaseExpiredForCandidate({ ...base, holderIdentity: undefined, nowMonoMs: 1000 })).toBe(true);
  });

  it('expires a held lease only after it was observed unchanged for its duration', () => {
    expect(leaseExpiredForCandidate({ ...base, holderIdentity: 'other', nowMonoMs: 1000 + 14_999 })).toBe(false);
    expect(leaseExpiredForCandidate({ ...base, holderIdentity: 'other', nowMonoMs: 1000 + 15_000 })).toBe(true);
  });

  it("uses the record's own duration (a released lease says 1 s) and falls back when it is unusable", () => {
    expect(leaseExpiredForCandidate({ ...base, holderIdentity: 'x', leaseDurationSeconds: 1, nowMonoMs: 2000 })).toBe(true);
    expect(leaseExpiredForCandidate({ ...base, holderIdentity: 'x', leaseDurationSeconds: 0, nowMonoMs: 2000 })).toBe(false);
    expect(leaseExpiredForCandidate({ ...base, holderIdentity: 'x', leaseDurationSeconds: undefined, nowMonoMs: 16_000 })).toBe(true);
  });
});

describe('withinRenewDeadline', () => {
  const renewed = { renewedAtWallMs: 1_000_000, renewedAtMonoMs: 500, renewDeadlineMs: 10_000 };

  it('holds while both clocks are within the deadline', () => {
    expect(withinRenewDeadline({ ...renewed, nowWallMs: 1_009_999, nowMonoMs: 10_499 })).toBe(true);
  });

  it('ends at the deadline', () => {
    expect(withinRenewDeadline({ ...renewed, nowWallMs: 1_010_000, nowMonoMs: 10_500 })).toBe(false);
  });

  it('ends when the process was frozen past the deadline (both clocks moved on, no renew ran)', () => {
    expect(withinRenewDeadline({ ...renewed, nowWallMs: 1_000_000 + 60_000, nowMonoMs: 500 + 60_000 })).toBe(false);
  });

  it('fails closed when either clock disagrees (wall clock stepped back or forward)', () => {
    expect(withinRenewDeadline({ ...renewed, nowWallMs: 999_000, nowMonoMs: 600 })).toBe(false);
    expect(withinRenewDeadline({ ...renewed, nowWallMs: 1_000_100, nowMonoMs: 500 + 20_000 })).toBe(false);
    expect(withinRenewDeadline({ ...renewed, nowWallMs: 1_000_000 + 20_000, nowMonoMs: 600 })).toBe(false);
  });
});

describe('timings and formats', () => {
  it('accepts the defaults (15 s / 10 s / 2 s) and rejects inconsistent timings', () => {
    expect(() => validateTimings(DEFAULT_TIMINGS)).not.toThrow();
    expect(() => validateTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 })).toThrow(/leaseDurationMs/);
    expect(() => validateTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 2000, retryPeriodMs: 2000 })).toThrow(/renewDeadlineMs/);
    expect(() => validateTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 0 })).toThrow(/retryPeriodMs/);
  });

  it('formats MicroTime with six fractional digits', () => {
    expect(formatMicroTime(Date.parse('2026-11-25T16:55:36.123Z'))).toBe('2026-11-25T16:55:36.123000Z');
  });

  it('a fresh elector is not the leader and its fence refuses writes', () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const elector = new LeaderElector({ kubeConfig: kc, namespace: 'ns', name: 'lease', identity: 'me' });
    expect(elector.isLeader()).toBe(false);
    expect(() => elector.fence()).toThrow(NotLeaderError);
    expect(elector.timings).toEqual(DEFAULT_TIMINGS);
  });
});
