// A key-deduplicated, rate-limited work queue with client-go semantics:
// - a key added while it is already queued is not duplicated;
// - a key added while it is being processed is queued again only after that run calls done(), so no two
//   workers ever hold the same key (per-key serialisation);
// - addRateLimited() delays by the rate limiter (per-key exponential + overall token bucket);
// - shutDown() stops accepting keys and lets workers drain what is queued, within a deadline.
import type { Registry } from 'prom-client';
import { counter, gauge, histogram, DURATION_BUCKETS_SECONDS } from './metrics.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.ts';

export interface WorkQueueMetrics {
  depth(items: number): void;
  /** A key entered the queue (duplicates of a queued key are not counted). */
  added(): void;
  /** Seconds between add and a worker picking the key up. */
  queueLatency(seconds: number): void;
  /** Seconds a worker held the key. */
  workDuration(seconds: number): void;
  /** addRateLimited was called. */
  retried(): void;
}

/** prom-client implementation; the families are shared by all queues of the registry, label `name`. */
function prometheusWorkQueueMetrics(registry: Registry, name: string): WorkQueueMetrics {
  const labels = { name };
  const depth = gauge(registry, 'm87_workqueue_depth', 'Current number of keys waiting in the work queue.', ['name']);
  const adds = counter(registry, 'm87_workqueue_adds_total', 'Keys added to the work queue.', ['name']);
  const latency = histogram(
    registry,
    'm87_workqueue_queue_duration_seconds',
    'Seconds a key waits in the work queue before a worker takes it.',
    ['name'],
    DURATION_BUCKETS_SECONDS,
  );
  const work = histogram(
    registry,
    'm87_workqueue_work_duration_seconds',
    'Seconds a worker spends processing one key.',
    ['name'],
    DURATION_BUCKETS_SECONDS,
  );
  const retries = counter(registry, 'm87_workqueue_retries_total', 'Rate-limited re-adds of keys.', ['name']);
  depth.set(labels, 0);
  adds.inc(labels, 0);
  latency.zero(labels);
  work.zero(labels);
  retries.inc(labels, 0);
  return {
    depth: (n) => depth.set(labels, n),
    added: () => adds.inc(labels),
    queueLatency: (s) => latency.observe(labels, s),
    workDuration: (s) => work.observe(labels, s),
    retried: () => retries.inc(labels),
  };
}

export interface WorkQueueOptions {
  /** Used as the metrics label; keep it static (e.g. the controller name). */
  name: string;
  rateLimiter?: RateLimiter;
  /** Explicit metric callbacks; otherwise prom-client metrics when `registry` is given. */
  metrics?: WorkQueueMetrics;
  registry?: Registry;
  /** Monotonic milliseconds, for metrics only. */
  now?: () => number;
}

export interface ShutDownOptions {
  /** Process the keys already queued before stopping (default true); false drops them. */
  drain?: boolean;
  /** Give up waiting after this long; queued keys are then dropped. Default: wait indefinitely. */
  timeoutMs?: number;
}

type Waiter = (key: string | undefined) => void;

export class WorkQueue {
  readonly name: string;
  readonly #rateLimiter: RateLimiter;
  readonly #metrics: WorkQueueMetrics | undefined;
  readonly #now: () => number;

  #queue: string[] = [];
  #head = 0;
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #waiters: Waiter[] = [];
  readonly #delayed = new Map<string, { readyAt: number; timer: ReturnType<typeof setTimeout> }>();
  readonly #addedAt = new Map<string, number>();
  readonly #startedAt = new Map<string, number>();
  #shuttingDown = false;
  #drainedWaiters: (() => void)[] = [];

  constructor(opts: WorkQueueOptions) {
    this.name = opts.name;
    this.#rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter();
    this.#metrics = opts.metrics ?? (opts.registry ? prometheusWorkQueueMetrics(opts.registry, opts.name) : undefined);
    this.#now = opts.now ?? (() => performance.now());
  }

  /** Keys waiting (not counting keys being processed or delayed). */
  len(): number {
    return this.#queue.length - this.#head;
  }

  /** Keys currently held by workers. */
  processing(): number {
    return this.#processing.size;
  }

  /** Keys scheduled by addAfter/addRateLimited that are not yet queued. */
  delayed(): number {
    return this.#delayed.size;
  }

  isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  add(key: string): void {
    if (this.#shuttingDown) return;
    if (this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#metrics?.added();
    if (!this.#addedAt.has(key)) this.#addedAt.set(key, this.#now());
    // Still being processed: done() will queue it again, so two workers never hold the same key.
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Adds the key after delayMs; of several pending delays for one key the earliest wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const readyAt = this.#now() + delayMs;
    const pending = this.#delayed.get(key);
    if (pending && pending.readyAt <= readyAt) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    // Delayed retries alone must not keep a finished process alive.
    timer.unref?.();
    this.#delayed.set(key, { readyAt, timer });
  }

  /** Re-adds the key after its rate-limited backoff (use after a failure). */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    this.#metrics?.retried();
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /** Resets the key's backoff (use after success). */
  forget(key: string): void {
    this.#rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.#rateLimiter.numRequeues(key);
  }

  /**
   * Next key to process; the caller must call done(key) afterwards. Resolves undefined once the queue is
   * shut down and has nothing left to hand out.
   */
  get(): Promise<string | undefined> {
    if (this.len() > 0) return Promise.resolve(this.#take());
    if (this.#shuttingDown && this.#processing.size === 0) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    if (!this.#processing.delete(key)) return;
    const started = this.#startedAt.get(key);
    this.#startedAt.delete(key);
    if (started !== undefined) this.#metrics?.workDuration((this.#now() - started) / 1000);
    if (this.#dirty.has(key)) this.#push(key);
    this.#checkDrained();
  }

  /**
   * Runs `workers` loops that take keys and call process(key). A throw from process is treated as a
   * failure (addRateLimited) so a key is never silently lost. Resolves when all loops ended (after
   * shutDown).
   */
  async run(workers: number, process: (key: string) => Promise<void>): Promise<void> {
    if (!Number.isInteger(workers) || workers < 1) throw new Error('workers must be a positive integer');
    const loop = async (): Promise<void> => {
      for (;;) {
        const key = await this.get();
        if (key === undefined) return;
        try {
          await process(key);
        } catch {
          this.addRateLimited(key);
        } finally {
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, loop));
  }

  /**
   * Stops accepting keys (add/addAfter/addRateLimited become no-ops, pending delays are cancelled) and
   * waits until workers finished what they hold and — with drain — what is queued. Resolves true when
   * everything finished, false when timeoutMs passed first (remaining queued keys are then dropped).
   */
  shutDown(opts: ShutDownOptions = {}): Promise<boolean> {
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    if (opts.drain === false) this.#dropQueued();
    const drained = new Promise<boolean>((resolve) => {
      if (this.#isDrained()) {
        resolve(true);
        return;
      }
      this.#drainedWaiters.push(() => resolve(true));
    });
    this.#checkDrained();
    if (opts.timeoutMs === undefined) return drained;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        // Stop handing out work; in-flight keys finish on their own (their workers then exit).
        this.#dropQueued();
        this.#checkDrained();
        resolve(false);
      }, opts.timeoutMs);
    });
    return Promise.race([drained, timedOut]).finally(() => clearTimeout(timer));
  }

  #push(key: string): void {
    this.#queue.push(key);
    this.#metrics?.depth(this.len());
    const waiter = this.#waiters.shift();
    if (waiter) waiter(this.#take());
  }

  #take(): string {
    const key = this.#queue[this.#head]!;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#dirty.delete(key);
    this.#processing.add(key);
    const now = this.#now();
    const added = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (added !== undefined) this.#metrics?.queueLatency((now - added) / 1000);
    this.#startedAt.set(key, now);
    this.#metrics?.depth(this.len());
    return key;
  }

  #dropQueued(): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const key = this.#queue[i]!;
      this.#dirty.delete(key);
      this.#addedAt.delete(key);
    }
    // Keys re-added while processing must not run again either.
    for (const key of this.#processing) this.#dirty.delete(key);
    this.#queue = [];
    this.#head = 0;
    this.#metrics?.depth(0);
  }

  #isDrained(): boolean {
    return this.#shuttingDown && this.len() === 0 && this.#processing.size === 0;
  }

  #checkDrained(): void {
    if (!this.#isDrained()) return;
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    for (const resolve of this.#drainedWaiters.splice(0)) resolve();
  }
}
