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
 * A token bucket: `ratePerSecond` tokens accrue up to `burst`. The one implementation in the project: the
 * work queue's overall retry limit and the Event recorder's spam filter both use it.
 */
export class TokenBucket {
  readonly #ratePerSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  /** `now` is monotonic milliseconds (default performance.now). */
  constructor(ratePerSecond: number, burst: number, now: () => number = () => performance.now()) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) throw new Error('token bucket: need ratePerSecond > 0 and burst >= 1');
    this.#ratePerSecond = ratePerSecond;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#ratePerSecond);
    this.#last = now;
  }

  /** Takes a token if one is there now; false (nothing taken) otherwise. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Reserves a token, possibly one that does not exist yet; returns the ms until it does (as x/time/rate Reserve). */
  reserve(): number {
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#ratePerSecond) * 1000;
  }
}

/** Overall token bucket (qps, burst) as a rate limiter: each `when` reserves a token. */
export class TokenBucketRateLimiter implements RateLimiter {
  readonly #bucket: TokenBucket;

  constructor(qps = 10, burst = 100, now: () => number = () => performance.now()) {
    this.#bucket = new TokenBucket(qps, burst, now);
  }

  when(_key: string): number {
    return this.#bucket.reserve();
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
