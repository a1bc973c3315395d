// A controller ties informers (event sources) and a work queue to a level-based reconcile(key) function,
// like controller-runtime: events only enqueue keys; workers reconcile one key at a time per key; errors
// retry with per-key exponential backoff; success forgets the backoff; workers start only after every
// watched informer has synced, so a reconciler never acts on a partial cache.
import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { deadline } from './deadline.ts';
import type { Informer } from './informer.ts';
import { counter, gauge, histogram, RECONCILE_BUCKETS_SECONDS } from './metrics.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { keyOf, objectKey, splitKey, type KubeObject } from './resource.ts';
import { WorkQueue } from './workqueue.ts';

/**
 * How a controller's typed keys travel through the work queue (which deduplicates strings). decode must
 * invert encode; a string it cannot decode is dropped (it can only come from a bug).
 */
export interface KeyCodec<K> {
  encode(key: K): string;
  decode(raw: string): K;
  /** Fields for the reconcile's log lines. */
  logFields(key: K): Record<string, string>;
}

/** The key of an object-keyed controller: the object's namespace (undefined when cluster-scoped) and name. */
export interface ObjectKey {
  namespace: string | undefined;
  name: string;
}

/** Object keys as client-go writes them: "namespace/name", or "name" for cluster-scoped objects. */
export const OBJECT_KEYS: KeyCodec<ObjectKey> = {
  encode: (key) => keyOf(key.namespace, key.name),
  decode: (raw) => splitKey(raw),
  logFields: (key) => ({ namespace: key.namespace ?? '', name: key.name }),
};

/** The ObjectKey of an object. */
export function objectKeyOf(obj: Pick<KubeObject, 'metadata'>): ObjectKey {
  return splitKey(objectKey(obj));
}

export interface ReconcileContext {
  /** The key as queued (its encoded form). */
  key: string;
  /** Random per reconcile, also in every log line of `log`. */
  reconcileID: string;
  /** pino child logger with controller, the key's log fields and reconcileID. */
  log: Logger;
  /** Aborted when the controller stops without draining (lost leadership, drain deadline passed). */
  signal: AbortSignal;
  /** Throws when this replica may not write (not the leader). Call it right before every write. */
  fence: () => void;
}

/** Return nothing for "done", requeueAfterMs to look again later, requeue for a rate-limited retry. */
export type ReconcileResult = void | { requeueAfterMs?: number; requeue?: boolean };

export type Reconciler<K = ObjectKey> = (key: K, ctx: ReconcileContext) => Promise<ReconcileResult> | ReconcileResult;

export interface WatchOptions<T, K = ObjectKey> {
  /** Keys to reconcile for an event on obj; default (object-keyed controllers) the object's own key. */
  mapToKeys?: (obj: T) => readonly K[];
  /** Filter real updates (resync updates with oldObj === newObj always pass). */
  updateFilter?: (oldObj: T, newObj: T) => boolean;
}

export interface ControllerOptions<K = ObjectKey> {
  /** Static name: metrics label and log key. */
  name: string;
  reconcile: Reconciler<K>;
  /** How keys are queued; default OBJECT_KEYS (then K must be ObjectKey). */
  keys?: KeyCodec<K>;
  /** Concurrent reconciles (different keys); default 1 like controller-runtime. */
  workers?: number;
  logger?: Logger;
  registry?: Registry;
  rateLimiter?: RateLimiter;
  /** Write fence, usually the leader elector's; the Manager sets it. Default: always allowed. */
  fence?: () => void;
  /** Fail start() when informers have not synced by then; default 2 min (controller-runtime). */
  cacheSyncTimeoutMs?: number;
  /** Abort ctx.signal of a reconcile that runs longer; default none. */
  reconcileTimeoutMs?: number;
}

const RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
type Result = (typeof RESULTS)[number];

interface ControllerMetrics {
  result(r: Result): void;
  error(): void;
  duration(seconds: number): void;
}

function controllerMetrics(registry: Registry | undefined, controller: string): ControllerMetrics | undefined {
  if (!registry) return undefined;
  const total = counter(registry, 'm87_reconcile_total', 'Reconciles by result.', ['controller', 'result']);
  const errors = counter(registry, 'm87_reconcile_errors_total', 'Reconciles that failed with an error.', ['controller']);
  const time = histogram(
    registry,
    'm87_reconcile_time_seconds',
    'Seconds per reconcile.',
    ['controller'],
    RECONCILE_BUCKETS_SECONDS,
  );
  for (const result of RESULTS) total.inc({ controller, result }, 0);
  errors.inc({ controller }, 0);
  time.zero({ controller });
  return {
    result: (result) => total.inc({ controller, result }),
    error: () => errors.inc({ controller }),
    duration: (s) => time.observe({ controller }, s),
  };
}

const stalenessSources = new WeakMap<Registry, Map<string, Set<Informer<KubeObject>>>>();

/**
 * Exposes m87_informer_last_event_age_seconds{resource} for the informer (value read at scrape time;
 * with several informers on one resource the stalest wins). Idempotent.
 */
export function registerInformerStaleness(registry: Registry, informer: Informer<KubeObject>): void {
  let sources = stalenessSources.get(registry);
  if (!sources) {
    const map = new Map<string, Set<Informer<KubeObject>>>();
    sources = map;
    stalenessSources.set(registry, map);
    gauge(
      registry,
      'm87_informer_last_event_age_seconds',
      'Seconds since the informer last heard from the apiserver (event, bookmark or list).',
      ['resource'],
      function collect() {
        for (const [resource, informers] of map) {
          let age = 0;
          for (const inf of informers) age = Math.max(age, inf.lastEventAge());
          this.set({ resource }, age);
        }
      },
    );
  }
  let set = sources.get(informer.resourceLabel);
  if (!set) sources.set(informer.resourceLabel, (set = new Set()));
  set.add(informer);
}

export class Controller<K = ObjectKey> {
  readonly name: string;
  readonly queue: WorkQueue;

  readonly #opts: ControllerOptions<K>;
  readonly #keys: KeyCodec<K>;
  readonly #log: Logger;
  readonly #metrics: ControllerMetrics | undefined;
  readonly #informers = new Set<Informer<KubeObject>>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #abort = new AbortController();
  #fence: () => void;
  #workers: Promise<void> | undefined;
  #started = false;

  constructor(opts: ControllerOptions<K>) {
    if (opts.name === '') throw new Error('controller: name must be non-empty');
    this.#keys = opts.keys ?? (OBJECT_KEYS as unknown as KeyCodec<K>);
    const workers = opts.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) throw new Error('controller: workers must be a positive integer');
    this.#opts = opts;
    this.name = opts.name;
    this.#log = (opts.logger ?? pino({ level: 'silent' })).child({ controller: opts.name });
    this.#metrics = controllerMetrics(opts.registry, opts.name);
    this.#fence = opts.fence ?? (() => undefined);
    this.queue = new WorkQueue({
      name: opts.name,
      ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}),
      ...(opts.registry ? { registry: opts.registry } : {}),
    });
  }

  /** Enqueue keys for add/update/delete events of the informer. Call before start(). */
  watch<T extends KubeObject>(informer: Informer<T>, opts: WatchOptions<T, K> = {}): this {
    if (opts.mapToKeys === undefined && this.#opts.keys !== undefined && this.#opts.keys !== (OBJECT_KEYS as unknown)) {
      throw new Error(`controller ${this.name}: a controller with its own key type needs mapToKeys`);
    }
    const toKeys = opts.mapToKeys ?? ((obj: T) => [objectKeyOf(obj) as K]);
    const enqueue = (obj: T): void => {
      for (const key of toKeys(obj)) this.queue.add(this.#keys.encode(key));
    };
    const filter = opts.updateFilter;
    this.#unsubscribe.push(
      informer.addHandlers({
        onAdd: enqueue,
        onUpdate: (oldObj, newObj) => {
          if (oldObj === newObj || !filter || filter(oldObj, newObj)) enqueue(newObj);
        },
        onDelete: enqueue,
      }),
    );
    this.#informers.add(informer as unknown as Informer<KubeObject>);
    if (this.#opts.registry) registerInformerStaleness(this.#opts.registry, informer as unknown as Informer<KubeObject>);
    return this;
  }

  /** Waits for this informer to sync before starting workers, without subscribing to its events. */
  dependsOn(informer: Informer<KubeObject>): this {
    this.#informers.add(informer);
    if (this.#opts.registry) registerInformerStaleness(this.#opts.registry, informer);
    return this;
  }

  /** Replaces the write fence (the Manager installs the leader elector's). */
  setFence(fence: () => void): void {
    this.#fence = fence;
  }

  enqueue(key: K): void {
    this.queue.add(this.#keys.encode(key));
  }

  enqueueAfter(key: K, delayMs: number): void {
    this.queue.addAfter(this.#keys.encode(key), delayMs);
  }

  /**
   * Waits until all informers synced (each must have been started by the caller), then starts the
   * workers and resolves. Rejects when the caches do not sync within cacheSyncTimeoutMs.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#started) throw new Error(`controller ${this.name}: already started`);
    this.#started = true;
    const timeoutMs = this.#opts.cacheSyncTimeoutMs ?? 120_000;
    const waitSignal = signal ? AbortSignal.any([signal, this.#abort.signal]) : this.#abort.signal;
    await Promise.all([...this.#informers].map((inf) => inf.waitForSync({ signal: waitSignal, timeoutMs })));
    this.#log.info({ workers: this.#opts.workers ?? 1 }, 'Starting workers');
    this.#workers = this.queue.run(this.#opts.workers ?? 1, (key) => this.#process(key));
  }

  /**
   * Stops: no new keys are accepted; with drain (default) queued keys are still reconciled until
   * timeoutMs, then in-flight reconciles see ctx.signal aborted. Resolves true when fully drained.
   */
  async stop(opts: { drain?: boolean; timeoutMs?: number } = {}): Promise<boolean> {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    // A standby never started workers: there is nobody to drain its queue, and it must not write anyway.
    const drain = (opts.drain ?? true) && this.#workers !== undefined;
    if (!drain) this.#abort.abort(new Error(`controller ${this.name} stopped`));
    const drained = await this.queue.shutDown({
      drain,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    if (!drained) this.#abort.abort(new Error(`controller ${this.name}: drain deadline passed`));
    this.#log.info({ drained }, 'Controller stopped');
    return drained;
  }

  /** Resolves when all workers have exited (after stop). */
  async done(): Promise<void> {
    await this.#workers;
  }

  async #process(key: string): Promise<void> {
    let typed: K;
    try {
      typed = this.#keys.decode(key);
    } catch (err) {
      // A malformed key can never succeed; retrying it forever would only hide the bug.
      this.#log.error({ err, key }, 'Dropping malformed key');
      this.queue.forget(key);
      return;
    }
    const reconcileID = randomUUID();
    // Made when first used: most reconciles log nothing, and a pino child serialises its fields at once.
    let childLog: Logger | undefined;
    const parentLog = this.#log;
    const keys = this.#keys;
    const logOf = (): Logger => (childLog ??= parentLog.child({ ...keys.logFields(typed), reconcileID }));
    const limit = this.#opts.reconcileTimeoutMs !== undefined ? deadline(this.#opts.reconcileTimeoutMs, this.#abort.signal) : undefined;
    const signal = limit?.signal ?? this.#abort.signal;
    const ctx: ReconcileContext = {
      key,
      reconcileID,
      get log() {
        return logOf();
      },
      signal,
      fence: () => this.#fence(),
    };
    const started = performance.now();
    let result: ReconcileResult;
    try {
      result = await this.#opts.reconcile(typed, ctx);
    } catch (err) {
      this.#metrics?.duration((performance.now() - started) / 1000);
      this.#metrics?.result('error');
      this.#metrics?.error();
      logOf().error({ err, retries: this.queue.numRequeues(key) }, 'Reconciler error');
      this.queue.addRateLimited(key);
      return;
    } finally {
      limit?.clear();
    }
    this.#metrics?.duration((performance.now() - started) / 1000);
    if (result && result.requeue === true) {
      this.#metrics?.result('requeue');
      this.queue.addRateLimited(key);
    } else if (result && result.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
      this.#metrics?.result('requeue_after');
      this.queue.forget(key);
      this.queue.addAfter(key, result.requeueAfterMs);
    } else {
      this.#metrics?.result('success');
      this.queue.forget(key);
    }
  }
}
