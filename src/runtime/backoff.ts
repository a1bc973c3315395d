// Jittered exponential backoff and an abortable sleep, shared by the informer, leader election and the
// status writer. Jitter spreads reconnects of many replicas/informers so they do not hit the apiserver in
// lock-step after an outage (client-node informers without it produced reconnect storms, see
// kubernetes-client/javascript#1933).

export interface BackoffOptions {
  /** First delay. */
  initialMs: number;
  /** Upper bound for the un-jittered delay. */
  maxMs: number;
  /** Growth per attempt; default 2. */
  factor?: number;
  /** Fraction of the delay that is randomised: delay * (1 - jitter + random * jitter); default 0.5. */
  jitter?: number;
}

function validateBackoff(opts: BackoffOptions, field = 'backoff'): void {
  const factor = opts.factor ?? 2;
  const jitter = opts.jitter ?? 0.5;
  if (!(opts.initialMs > 0)) throw new Error(`${field}.initialMs must be > 0`);
  if (!(opts.maxMs >= opts.initialMs)) throw new Error(`${field}.maxMs must be >= ${field}.initialMs`);
  if (!(factor >= 1)) throw new Error(`${field}.factor must be >= 1`);
  if (!(jitter >= 0 && jitter <= 1)) throw new Error(`${field}.jitter must be within [0, 1]`);
}

/** Un-jittered delay of attempt n (0-based), capped at maxMs. */
export function exponentialDelay(attempt: number, opts: BackoffOptions): number {
  const factor = opts.factor ?? 2;
  // Cap the exponent so huge attempt counts cannot overflow to Infinity/NaN.
  const raw = opts.initialMs * factor ** Math.min(attempt, 1000);
  return Number.isFinite(raw) ? Math.min(raw, opts.maxMs) : opts.maxMs;
}

export function applyJitter(delayMs: number, jitter: number, random: () => number = Math.random): number {
  return delayMs * (1 - jitter + random() * jitter);
}

export class Backoff {
  #attempt = 0;
  readonly #opts: BackoffOptions;
  readonly #random: () => number;

  constructor(opts: BackoffOptions, random: () => number = Math.random) {
    validateBackoff(opts);
    this.#opts = opts;
    this.#random = random;
  }

  /** Delay before the next attempt; grows with each call until reset(). */
  next(): number {
    const delay = exponentialDelay(this.#attempt, this.#opts);
    this.#attempt++;
    return applyJitter(delay, this.#opts.jitter ?? 0.5, this.#random);
  }

  reset(): void {
    this.#attempt = 0;
  }

  get attempts(): number {
    return this.#attempt;
  }
}

/** Sleeps ms; resolves early (false) when the signal aborts, true when the full time elapsed. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
