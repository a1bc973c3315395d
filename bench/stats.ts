// Percentiles and rates over latency samples and completion times. Pure, so the unit tests pin the
// definitions the report relies on.

export interface LatencySummary {
  /** Number of samples. */
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Nearest-rank percentile of ascending-sorted values: the smallest value such that at least p% of the
 * samples are <= it (p99 of 100 samples is the 99th smallest, not an interpolation). NaN when empty.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be within 0..100, got ${p}`);
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    n,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: n === 0 ? NaN : (sorted[n - 1] as number),
    mean: n === 0 ? NaN : sum / n,
  };
}

/**
 * Completions per second over the middle of a run: between the completion at fraction `from` and the one
 * at fraction `to` of all completions (default 10 %..90 %), so warm-up and the drain tail do not count.
 * `times` are completion instants in milliseconds, in any order. NaN with fewer than 10 completions or no
 * elapsed time.
 */
export function sustainedRate(times: readonly number[], from = 0.1, to = 0.9): number {
  if (!(from >= 0 && from < to && to <= 1)) throw new RangeError(`sustainedRate: want 0 <= from < to <= 1, got ${from}, ${to}`);
  if (times.length < 10) return NaN;
  const sorted = [...times].sort((a, b) => a - b);
  const last = sorted.length - 1;
  const i = Math.floor(from * last);
  const j = Math.ceil(to * last);
  const elapsedMs = (sorted[j] as number) - (sorted[i] as number);
  return elapsedMs > 0 ? ((j - i) / elapsedMs) * 1000 : NaN;
}

/** Events per second from `start` to the last of `times` (all in ms); NaN when nothing happened. */
export function overallRate(times: readonly number[], start: number): number {
  if (times.length === 0) return NaN;
  const end = times.reduce((m, t) => (t > m ? t : m), -Infinity);
  return end > start ? (times.length / (end - start)) * 1000 : NaN;
}

/** a / b, or NaN when either is not a finite number or b is 0. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}
