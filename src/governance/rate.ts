import type { GovernancePolicySpec } from '../api/governance-policy.ts';

const WINDOW_MS = 60_000;

export type RateVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Per-submitter sliding one-minute window over the submitter's decision times (epoch ms). Over the limit
 * the proposal is not decided yet (phase Throttled; the controller requeues after retryAfterMs): a rate
 * limit never produces a Decision, and never an ALLOW. Times in the future or unreadable still count.
 */
export function checkRate(submitterDecisionTimes: readonly number[], now: number, policy: Pick<GovernancePolicySpec, 'rateLimit'>): RateVerdict {
  const limit = policy.rateLimit.proposalsPerMinute;
  const since = now - WINDOW_MS;
  const inWindow: number[] = [];
  for (const t of submitterDecisionTimes) if (!(t <= since)) inWindow.push(t);
  if (inWindow.length < limit) return { allowed: true };
  // The window drops below the limit once the (count - limit + 1) oldest decisions have left it.
  inWindow.sort((a, b) => (Number.isNaN(a) ? 1 : Number.isNaN(b) ? -1 : a - b));
  const pivot = inWindow[inWindow.length - limit] ?? Number.NaN;
  const retryAfterMs = Number.isFinite(pivot) ? Math.max(1, Math.ceil(pivot + WINDOW_MS - now)) : WINDOW_MS;
  return { allowed: false, retryAfterMs };
}
