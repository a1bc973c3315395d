// Work-queue rate limiters, modelled on client-go's util/workqueue: a per-item exponential failure backoff
// (5 ms → 1000 s, as controller-runtime's default) combined with an overall token bucket so a burst of
// failing keys cannot hammer the apiserver.

export interface RateLimiter {
  /** How long to wait before the key may be processed again; records one more failure. */
  when(key: string): number;
  /** Clears the failure history of the key (call after a successful reconcile). */
  forget(key: string): void;
  /** Failures recorded for the key since the last forget. */
  numRequeues(key: string): number;
}

export class ItemExponentialFailureRateLimiter implements RateLimiter {
  readonly #failures = new Map<string, number>();
  readonly #baseMs: number;
  readonly #maxMs: number;

  constructor(baseMs = 5, maxMs = 1_000_000) {
    if (!(baseMs > 0) || !(maxMs >= baseMs)) throw new Error('rate limiter: need 0 < baseMs <= maxMs');
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const delay = this.#baseMs * 2 ** Math.min(failures, 1000);
    return Number.isFinite(delay) ? Math.min(delay, this.#maxMs) : this.#maxMs;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

/**
 * Overall token bucket (qps, burst). Each `when` reserves a token; when none is left the delay is the
 * time until the reserved token will exist, like golang.org/x/time/rate's Reserve().
 */
export class TokenBucketRateLimiter implements RateLimiter {
  readonly #qps: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(qps = 10, burst = 100, now: () => number = () => performance.now()) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error('token bucket: need qps > 0 and burst >= 1');
    this.#qps = qps;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  when(_key: string): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#qps) * 1000;
  }

  forget(_key: string): void {}

  numRequeues(_key: string): number {
    return 0;
  }
}

/** The longest delay of all limiters wins (client-go MaxOfRateLimiter). */
export class MaxOfRateLimiter implements RateLimiter {
  readonly #limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    if (limiters.length === 0) throw new Error('MaxOfRateLimiter needs at least one limiter');
    this.#limiters = limiters;
  }

  when(key: string): number {
    let max = 0;
    for (const l of this.#limiters) max = Math.max(max, l.when(key));
    return max;
  }

  forget(key: string): void {
    for (const l of this.#limiters) l.forget(key);
  }

  numRequeues(key: string): number {
    let max = 0;
    for (const l of this.#limiters) max = Math.max(max, l.numRequeues(key));
    return max;
  }
}

export interface ControllerRateLimiterOptions {
  /** Per-item backoff start; default 5 ms. */
  baseDelayMs?: number;
  /** Per-item backoff cap; default 1000 s. */
  maxDelayMs?: number;
  /** Overall retry rate; default 10/s. */
  qps?: number;
  /** Overall burst; default 100. */
  burst?: number;
}

export function defaultControllerRateLimiter(opts: ControllerRateLimiterOptions = {}): RateLimiter {
  return new MaxOfRateLimiter(
    new ItemExponentialFailureRateLimiter(opts.baseDelayMs ?? 5, opts.maxDelayMs ?? 1_000_000),
    new TokenBucketRateLimiter(opts.qps ?? 10, opts.burst ?? 100),
  );
}
