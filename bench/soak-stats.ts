// The soak's arithmetic (pure, unit-tested): the retention rate that keeps up with an arrival rate, counts
// from Prometheus text and LIST pages, and the judgement whether a curve stays flat.
import { kindOf } from './mix.ts';

/**
 * Retention deletions (tokens of its bucket) one proposal of the mix costs: an ALLOW tree is three
 * (its job Pod, then its NetworkPolicy, then the Proposal with the cascade), a DENY or REQUIRE_HUMAN tree one
 * (the Proposal). The GETs retention makes on the way (the live Pod before the NetworkPolicy, the Decision
 * and Job before the audit record) are not paid for with tokens.
 */
export function retentionTokensPerProposal(): number {
  let tokens = 0;
  for (let i = 0; i < 10; i++) tokens += kindOf(i) === 'allow' ? 3 : 1;
  return tokens / 10;
}

/** The soak's --retention-rate: `headroom` × what the arrival rate needs (2 lets a backlog drain at twice its growth). */
export function soakRetentionRate(arrivalPerSecond: number, headroom = 2): number {
  return Math.min(1000, Math.ceil(retentionTokensPerProposal() * arrivalPerSecond * headroom));
}

/** Sum of every sample of a metric (optionally only those whose labels include `match`) in Prometheus text. */
export function promSum(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+([0-9.eE+-]+|NaN|\+Inf)(\s+\d+)?$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    if (Object.entries(match).some(([k, v]) => labels[k] !== v)) continue;
    sum += Number(m[4]);
    found = true;
  }
  return found ? sum : NaN;
}

/** Objects a LIST with limit holds in all: the page's items plus metadata.remainingItemCount (NaN when the server does not say). */
export function listTotal(page: { items?: unknown[]; metadata?: { remainingItemCount?: number; continue?: string } }): number {
  const items = page.items?.length ?? 0;
  const rest = page.metadata?.remainingItemCount;
  if (rest !== undefined) return items + rest;
  return page.metadata?.continue ? NaN : items;
}

export type FlatVerdict = 'FLAT' | 'GROWING' | 'SHRINKING' | 'TOO FEW SAMPLES';

export interface Flatness {
  verdict: FlatVerdict;
  /** Mean of the middle and of the last third of the samples. */
  middleMean: number;
  lastMean: number;
  /** Least-squares slope over the middle and last thirds, per 10,000 proposals. */
  slopePer10k: number;
  samples: number;
}

/**
 * Whether a curve sampled over a run stays flat: the first third is the fill (history builds up until the first
 * trees are due), so the mean of the last third is compared with the middle third's. FLAT when they differ by
 * at most `relTolerance` of the middle mean or `absTolerance` (whichever is larger), else GROWING or
 * SHRINKING. The slope (least squares over both thirds, per 10,000 proposals) says how fast. Needs 3 samples.
 */
export function judgeFlatness(points: readonly { x: number; y: number }[], opts: { relTolerance?: number; absTolerance?: number } = {}): Flatness {
  const usable = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const n = usable.length;
  if (n < 3) return { verdict: 'TOO FEW SAMPLES', middleMean: NaN, lastMean: NaN, slopePer10k: NaN, samples: n };
  const third = Math.floor(n / 3);
  const middle = usable.slice(third, n - third);
  const last = usable.slice(n - third);
  const mean = (xs: readonly { y: number }[]) => xs.reduce((s, p) => s + p.y, 0) / xs.length;
  const middleMean = mean(middle);
  const lastMean = mean(last);
  const tail = usable.slice(third);
  const slopePer10k = slope(tail) * 10_000;
  const tolerance = Math.max(Math.abs(middleMean) * (opts.relTolerance ?? 0.1), opts.absTolerance ?? 0);
  const diff = lastMean - middleMean;
  const verdict: FlatVerdict = Math.abs(diff) <= tolerance ? 'FLAT' : diff > 0 ? 'GROWING' : 'SHRINKING';
  return { verdict, middleMean, lastMean, slopePer10k, samples: n };
}

/** Least-squares slope dy/dx; 0 for fewer than two distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
