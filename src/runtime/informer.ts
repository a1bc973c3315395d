// A shared informer: list + watch one resource into an indexed, read-only in-memory cache and tell
// handlers about add/update/delete. Robustness requirements come from the known failure modes of
// client-node's own informer (docs: reference/anchors.md §A.6):
// - watches request bookmarks and keep the last resourceVersion, so a reconnect resumes instead of
//   relisting, and a quiet watch's resourceVersion does not age out;
// - any error or close restarts the watch (jittered exponential backoff on errors), it never just stops;
// - 410 Gone relists and diffs the new list against the cache, emitting add/update/delete, so deletions
//   that happened while disconnected are not missed;
// - a watchdog restarts a watch that has been silent (no event, no bookmark) for too long;
// - a periodic relist re-diffs against the server as a safety net, a periodic resync re-emits the cache.
import { pino, type Logger } from 'pino';
import { Backoff, sleep, type BackoffOptions } from './backoff.ts';
import type { KubeClient } from './kube-access.ts';
import { isGone, kubeRequest, streamWatch, type KubeStatus, type RawWatchEvent } from './kube-http.ts';
import { deepFreeze } from '../hash/freeze.ts';
import {
  isKubeObject,
  keyOf,
  objectKey,
  resourceLabel,
  resourcePath,
  type KubeObject,
  type ResourceType,
} from './resource.ts';

export interface InformerHandlers<T> {
  onAdd?: (obj: T) => void;
  /** Also called by resync with oldObj === newObj. */
  onUpdate?: (oldObj: T, newObj: T) => void;
  /** Receives the last state the cache knew. */
  onDelete?: (obj: T) => void;
}

/** Returns the index values of an object (may be several, or none). Must be pure and cheap. */
export type IndexFunc<T> = (obj: T) => readonly string[];

/** Built-in index present on every informer: objects by metadata.namespace ('' for cluster-scoped). */
export const NAMESPACE_INDEX = 'namespace';

/** Index by the value of one label (objects without the label are not indexed). */
export function indexByLabel(label: string): IndexFunc<KubeObject> {
  return (obj) => {
    const value = obj.metadata.labels?.[label];
    return value === undefined ? [] : [value];
  };
}

export interface InformerOptions<T extends KubeObject> {
  kubeConfig: KubeClient;
  resource: ResourceType;
  /** Restrict to one namespace (namespaced resources only); default all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Extra indexes by name; NAMESPACE_INDEX always exists. */
  indexers?: Record<string, IndexFunc<T>>;
  /** Re-emit every cached object to onUpdate this often; 0 disables. Default 10 h (controller-runtime). */
  resyncPeriodMs?: number;
  /** Re-list from the server and diff this often, as a safety net; 0 disables. Default 30 min. */
  relistPeriodMs?: number;
  /**
   * Restart a watch whose connection delivered nothing (no event, no bookmark, no close) for this long.
   * Keep it above watchTimeoutSeconds.max: the apiserver sends bookmarks only when the resourceVersion
   * moved, so a healthy watch on a quiet resource is silent until the server ends it. Default 150 s.
   */
  watchdogMs?: number;
  /**
   * Server-side watch timeout range; each watch picks a random value in it. Shorter than client-go's
   * 5–10 min so that a quiet resource still proves liveness (and the staleness metric stays meaningful)
   * every couple of minutes; resuming a watch from its resourceVersion is cheap. Default 60–120 s.
   */
  watchTimeoutSeconds?: { min: number; max: number };
  /** Delay between failed attempts. Default 800 ms → 30 s, jittered (client-go reflector). */
  backoff?: BackoffOptions;
  /** LIST page size. Default 500. */
  pageSize?: number;
  /**
   * Applied once to every object as it arrives (list items and watch events, deletions included), before
   * it is frozen, indexed and handed to anyone: the cache holds only what it returns (controller-runtime's
   * cache transforms). Drop what no reader needs, or replace parts by their parsed form. It must keep
   * apiVersion, kind and metadata's name, namespace, uid, resourceVersion, and must not throw (an object it
   * throws on is cached as it came, stripped of managedFields). Default: stripManagedFields.
   */
  transform?: (obj: KubeObject) => T;
  logger?: Logger;
}

export interface InformerStats {
  /** Full LISTs done (initial, after 410, periodic). */
  lists: number;
  /** Watches started. */
  watches: number;
  /** Watches ended by an error (excluding 410). */
  watchErrors: number;
  /** 410 Gone answers (each leads to a relist). */
  expired: number;
  /** Watches restarted by the watchdog. */
  watchdogRestarts: number;
  /** Add/update/delete/bookmark events received over watches. */
  events: number;
  /** Bookmarks received (they only move the resourceVersion forward). */
  bookmarks: number;
  resourceVersion: string | undefined;
}

/**
 * The object without metadata.managedFields (who set which field: large, and read by no reconciler;
 * controller-runtime's TransformStripManagedFields). Returns obj itself when there is nothing to strip.
 */
export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata.managedFields === undefined) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

type WatchOutcome = 'closed' | 'expired' | 'watchdog' | 'relist' | 'restart' | 'stopped';

class WatchExpiredError extends Error {}

interface ListResponse {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: unknown[];
}

const DEFAULTS = {
  resyncPeriodMs: 10 * 60 * 60 * 1000,
  relistPeriodMs: 30 * 60 * 1000,
  watchdogMs: 150_000,
  watchTimeoutSeconds: { min: 60, max: 120 },
  backoff: { initialMs: 800, maxMs: 30_000, factor: 2, jitter: 0.5 } satisfies BackoffOptions,
  pageSize: 500,
};

export class Informer<T extends KubeObject = KubeObject> {
  readonly resource: ResourceType;
  /** 'configmaps', 'proposals.m87.dev': stable label for metrics and logs. */
  readonly resourceLabel: string;

  readonly #opts: InformerOptions<T>;
  readonly #log: Logger;
  readonly #path: string;
  readonly #indexers: Map<string, IndexFunc<T>>;
  readonly #cache = new Map<string, T>();
  /**
   * Index name → value → keys. What an object was indexed under is not stored per object (a Map and an
   * array per index per object: about 0.4 KB for three indexes): index functions are pure, so it is
   * computed again from the cached object when the object is replaced or removed.
   */
  readonly #indices = new Map<string, Map<string, Set<string>>>();
  readonly #handlers = new Set<InformerHandlers<T>>();
  readonly #syncWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  #resourceVersion: string | undefined;
  #synced = false;
  #started = false;
  #stopController = new AbortController();
  #watchAbort: AbortController | undefined;
  #relistRequested = false;
  /** LISTs started so far; relistAndWait waits for one that started after its call. */
  #listsStarted = 0;
  #relistWaiters: { minSeq: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  #loop: Promise<void> | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #lastEventAt = performance.now();
  readonly #stats: Omit<InformerStats, 'resourceVersion'> = {
    lists: 0,
    watches: 0,
    watchErrors: 0,
    expired: 0,
    watchdogRestarts: 0,
    events: 0,
    bookmarks: 0,
  };

  constructor(opts: InformerOptions<T>) {
    if (opts.namespace !== undefined && !opts.resource.namespaced) {
      throw new Error(`informer: resource ${resourceLabel(opts.resource)} is cluster-scoped; namespace must be unset`);
    }
    this.#opts = opts;
    this.resource = opts.resource;
    this.resourceLabel = resourceLabel(opts.resource);
    this.#log = (opts.logger ?? pino({ level: 'silent' })).child({ informer: this.resourceLabel });
    this.#path = resourcePath(opts.resource, { namespace: opts.namespace });
    this.#indexers = new Map<string, IndexFunc<T>>([
      [NAMESPACE_INDEX, (obj: T) => [obj.metadata.namespace ?? '']],
    ]);
    for (const [name, fn] of Object.entries(opts.indexers ?? {})) {
      if (name === NAMESPACE_INDEX) throw new Error(`informer: index name ${NAMESPACE_INDEX} is reserved`);
      this.#indexers.set(name, fn);
    }
    for (const name of this.#indexers.keys()) this.#indices.set(name, new Map());
    const wt = opts.watchTimeoutSeconds ?? DEFAULTS.watchTimeoutSeconds;
    if (!(wt.min > 0 && wt.max >= wt.min)) throw new Error('informer: watchTimeoutSeconds needs 0 < min <= max');
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Starts list+watch in the background. Idempotent; an informer cannot be restarted after stop(). */
  start(): void {
    if (this.#started) return;
    if (this.#stopController.signal.aborted) throw new Error(`informer ${this.resourceLabel}: already stopped`);
    this.#started = true;
    this.#lastEventAt = performance.now();
    const resync = this.#opts.resyncPeriodMs ?? DEFAULTS.resyncPeriodMs;
    if (resync > 0) this.#timers.push(setInterval(() => this.#resync(), resync));
    const relist = this.#opts.relistPeriodMs ?? DEFAULTS.relistPeriodMs;
    if (relist > 0) this.#timers.push(setInterval(() => this.relist(), relist));
    for (const t of this.#timers) t.unref?.();
    this.#loop = this.#run(this.#stopController.signal);
  }

  async stop(): Promise<void> {
    this.#stopController.abort(new Error('informer stopped'));
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await this.#loop;
    const stopped = new Error(`informer ${this.resourceLabel}: stopped`);
    for (const w of [...this.#syncWaiters, ...this.#relistWaiters]) w.reject(stopped);
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list has been applied; rejects on abort or timeout. */
  waitForSync(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#stopController.signal.aborted) return Promise.reject(new Error(`informer ${this.resourceLabel}: stopped`));
    return new Promise((resolve, reject) => {
      const cleanups: (() => void)[] = [];
      const settle = (fn: () => void): void => {
        for (const c of cleanups) c();
        fn();
      };
      const waiter = { resolve: () => settle(resolve), reject: (err: Error) => settle(() => reject(err)) };
      this.#syncWaiters.push(waiter);
      cleanups.push(() => {
        const i = this.#syncWaiters.indexOf(waiter);
        if (i >= 0) this.#syncWaiters.splice(i, 1);
      });
      if (opts.timeoutMs !== undefined) {
        const t = setTimeout(
          () => settle(() => reject(new Error(`informer ${this.resourceLabel}: not synced after ${opts.timeoutMs} ms`))),
          opts.timeoutMs,
        );
        cleanups.push(() => clearTimeout(t));
      }
      if (opts.signal) {
        const signal = opts.signal;
        const onAbort = (): void => settle(() => reject(new Error(`informer ${this.resourceLabel}: wait for sync aborted`)));
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
    });
  }

  /**
   * Seconds since the last sign of life from the server: a list, a watch event, a bookmark, or a watch
   * the server ended at its own timeout (the whole stream was live up to then, so nothing was withheld).
   * A connection that is accepted but then delivers nothing does not count: that is what this measures.
   */
  lastEventAge(): number {
    return (performance.now() - this.#lastEventAt) / 1000;
  }

  stats(): InformerStats {
    return { ...this.#stats, resourceVersion: this.#resourceVersion };
  }

  /** Ends the current watch and resumes from the last resourceVersion (no relist). */
  restartWatch(): void {
    this.#watchAbort?.abort('restart');
  }

  /** Ends the current watch, relists and diffs against the cache. */
  relist(): void {
    this.#relistRequested = true;
    this.#watchAbort?.abort('relist');
  }

  /**
   * Relists and resolves once a LIST that *started after this call* has been applied to the cache, so
   * the cache then contains every write that completed before the call (e.g. a previous leader's).
   */
  relistAndWait(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    if (this.#stopController.signal.aborted) return Promise.reject(new Error(`informer ${this.resourceLabel}: stopped`));
    return new Promise((resolve, reject) => {
      const cleanups: (() => void)[] = [];
      const settle = (fn: () => void): void => {
        for (const c of cleanups) c();
        fn();
      };
      const waiter = {
        minSeq: this.#listsStarted + 1,
        resolve: () => settle(resolve),
        reject: (err: Error) => settle(() => reject(err)),
      };
      this.#relistWaiters.push(waiter);
      cleanups.push(() => {
        const i = this.#relistWaiters.indexOf(waiter);
        if (i >= 0) this.#relistWaiters.splice(i, 1);
      });
      if (opts.timeoutMs !== undefined) {
        const t = setTimeout(
          () => settle(() => reject(new Error(`informer ${this.resourceLabel}: no fresh list after ${opts.timeoutMs} ms`))),
          opts.timeoutMs,
        );
        cleanups.push(() => clearTimeout(t));
      }
      if (opts.signal) {
        const signal = opts.signal;
        const onAbort = (): void => settle(() => reject(new Error(`informer ${this.resourceLabel}: relist wait aborted`)));
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
      this.relist();
    });
  }

  // ---- handlers --------------------------------------------------------------------------------

  /**
   * Registers handlers; returns a function that removes them. When the cache is already synced the new
   * handlers get onAdd for every cached object first (as client-go), so late registration misses nothing.
   */
  addHandlers(handlers: InformerHandlers<T>): () => void {
    this.#handlers.add(handlers);
    if (this.#synced && handlers.onAdd) {
      for (const obj of this.#cache.values()) this.#call(() => handlers.onAdd?.(obj));
    }
    return () => this.#handlers.delete(handlers);
  }

  // ---- cache reads (objects are frozen; never mutate them) -------------------------------------

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.#cache.get(keyOf(namespace, name));
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  keys(): string[] {
    return [...this.#cache.keys()];
  }

  size(): number {
    return this.#cache.size;
  }

  /** Objects whose index `indexName` contains `value`. */
  byIndex(indexName: string, value: string): T[] {
    const out: T[] = [];
    for (const key of this.indexKeys(indexName, value)) {
      const obj = this.#cache.get(key);
      if (obj) out.push(obj);
    }
    return out;
  }

  indexKeys(indexName: string, value: string): string[] {
    const index = this.#indices.get(indexName);
    if (!index) throw new Error(`informer ${this.resourceLabel}: unknown index ${JSON.stringify(indexName)}`);
    return [...(index.get(value) ?? [])];
  }

  // ---- list/watch loop -------------------------------------------------------------------------

  async #run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.#opts.backoff ?? DEFAULTS.backoff);
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList || this.#relistRequested) {
          this.#relistRequested = false;
          await this.#listAndReplace(signal);
          needList = false;
        }
        const { outcome, events, durationMs } = await this.#watchOnce(signal);
        if (events > 0) backoff.reset();
        switch (outcome) {
          case 'stopped':
            return;
          case 'expired':
            this.#stats.expired++;
            needList = true;
            this.#log.info({ resourceVersion: this.#resourceVersion }, 'Watch expired (410); relisting');
            // A relist that expires again right away must not spin.
            if (events === 0) await sleep(backoff.next(), signal);
            break;
          case 'watchdog':
            this.#stats.watchdogRestarts++;
            this.#log.warn({ silentMs: this.#opts.watchdogMs ?? DEFAULTS.watchdogMs }, 'Watch silent too long; restarting');
            break;
          case 'closed':
            // The normal end of a watch (server timeout) resumes at once; a server that closes every
            // watch right away (proxy, overload) must not make us spin.
            if (events === 0 && durationMs < 1000) await sleep(backoff.next(), signal);
            else backoff.reset();
            break;
          case 'relist':
          case 'restart':
            break;
          default: {
            const never: never = outcome;
            throw new Error(`unexpected watch outcome ${String(never)}`);
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        if (isGone(err)) {
          this.#stats.expired++;
          needList = true;
        } else {
          this.#stats.watchErrors++;
        }
        const delay = backoff.next();
        this.#log.warn({ err, retryInMs: Math.round(delay), needList }, 'List/watch failed; retrying');
        await sleep(delay, signal);
      }
    }
  }

  async #listAndReplace(signal: AbortSignal): Promise<void> {
    const seq = ++this.#listsStarted;
    const items: T[] = [];
    let continueToken: string | undefined;
    let listRV: string | undefined;
    do {
      const page = await kubeRequest<ListResponse>(this.#opts.kubeConfig, {
        method: 'GET',
        path: this.#path,
        query: {
          limit: this.#opts.pageSize ?? DEFAULTS.pageSize,
          continue: continueToken,
          labelSelector: this.#opts.labelSelector,
          fieldSelector: this.#opts.fieldSelector,
        },
        signal,
        timeoutMs: 60_000,
      });
      // List items carry no apiVersion/kind; add them so cached objects look like watched ones.
      const kind = page.kind?.replace(/List$/, '');
      for (const raw of page.items ?? []) {
        if (!isKubeObject(raw)) {
          this.#log.warn('List returned an item without metadata.name; ignored');
          continue;
        }
        if (raw.apiVersion === undefined && page.apiVersion !== undefined) raw.apiVersion = page.apiVersion;
        if (raw.kind === undefined && kind !== undefined) raw.kind = kind;
        items.push(raw as T);
      }
      continueToken = page.metadata?.continue || undefined;
      listRV = page.metadata?.resourceVersion;
    } while (continueToken !== undefined && !signal.aborted);
    if (signal.aborted) return;
    if (listRV === undefined || listRV === '') {
      throw new Error(`LIST ${this.#path}: response has no metadata.resourceVersion`);
    }
    this.#stats.lists++;
    this.#replace(items);
    this.#resourceVersion = listRV;
    this.#lastEventAt = performance.now();
    if (!this.#synced) {
      this.#synced = true;
      this.#log.debug({ objects: this.#cache.size, resourceVersion: listRV }, 'Informer synced');
      for (const waiter of [...this.#syncWaiters]) waiter.resolve();
    }
    for (const waiter of this.#relistWaiters.filter((w) => w.minSeq <= seq)) waiter.resolve();
  }

  /** Applies a full list: add new, update changed (by resourceVersion), delete missing. */
  #replace(items: T[]): void {
    const seen = new Set<string>();
    for (const raw of items) {
      const key = objectKey(raw);
      seen.add(key);
      const old = this.#cache.get(key);
      if (old === undefined) {
        const obj = this.#ingest(raw);
        this.#store(key, obj);
        this.#emitAdd(obj);
      } else if (old.metadata.resourceVersion !== raw.metadata.resourceVersion) {
        const obj = this.#ingest(raw);
        this.#store(key, obj);
        this.#emitUpdate(old, obj);
      }
    }
    const gone = [...this.#cache.entries()].filter(([key]) => !seen.has(key));
    for (const [key, old] of gone) {
      this.#remove(key);
      this.#emitDelete(old);
    }
  }

  async #watchOnce(signal: AbortSignal): Promise<{ outcome: WatchOutcome; events: number; durationMs: number }> {
    const abort = new AbortController();
    this.#watchAbort = abort;
    if (this.#relistRequested) abort.abort('relist');
    const watchdogMs = this.#opts.watchdogMs ?? DEFAULTS.watchdogMs;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const armWatchdog = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => abort.abort('watchdog'), watchdogMs);
    };
    const { min, max } = this.#opts.watchTimeoutSeconds ?? DEFAULTS.watchTimeoutSeconds;
    const timeoutSeconds = Math.floor(min + Math.random() * (max - min + 1));
    let events = 0;
    const started = performance.now();
    const result = (outcome: WatchOutcome): { outcome: WatchOutcome; events: number; durationMs: number } => ({
      outcome,
      events,
      durationMs: performance.now() - started,
    });
    this.#stats.watches++;
    armWatchdog();
    try {
      await streamWatch(
        this.#opts.kubeConfig,
        {
          path: this.#path,
          query: {
            watch: 1,
            allowWatchBookmarks: true,
            resourceVersion: this.#resourceVersion,
            timeoutSeconds,
            labelSelector: this.#opts.labelSelector,
            fieldSelector: this.#opts.fieldSelector,
          },
          signal: AbortSignal.any([signal, abort.signal]),
        },
        (event) => {
          events++;
          this.#stats.events++;
          this.#lastEventAt = performance.now();
          armWatchdog();
          this.#applyWatchEvent(event);
        },
        () => armWatchdog(),
      );
      // Ended by the apiserver at the timeout we asked for: proof of a live stream on a quiet resource.
      if (performance.now() - started >= timeoutSeconds * 900) this.#lastEventAt = performance.now();
      return result('closed');
    } catch (err) {
      if (signal.aborted) return result('stopped');
      if (err instanceof WatchExpiredError || isGone(err)) return result('expired');
      if (abort.signal.aborted) {
        const reason: unknown = abort.signal.reason;
        if (reason === 'watchdog' || reason === 'relist' || reason === 'restart') return result(reason);
      }
      throw err;
    } finally {
      clearTimeout(watchdog);
      if (this.#watchAbort === abort) this.#watchAbort = undefined;
    }
  }

  #applyWatchEvent(event: RawWatchEvent): void {
    switch (event.type) {
      case 'BOOKMARK': {
        this.#stats.bookmarks++;
        const rv = (event.object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
        if (typeof rv === 'string' && rv !== '') this.#resourceVersion = rv;
        return;
      }
      case 'ERROR': {
        const status = (event.object ?? {}) as KubeStatus;
        if (status.code === 410) throw new WatchExpiredError(status.message ?? 'resource version expired');
        throw new Error(`watch ${this.#path}: ERROR event ${status.code ?? '?'} ${status.reason ?? ''}: ${status.message ?? ''}`);
      }
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED': {
        if (!isKubeObject(event.object)) throw new Error(`watch ${this.#path}: ${event.type} event without metadata.name`);
        const obj = this.#ingest(event.object);
        const key = objectKey(obj);
        const old = this.#cache.get(key);
        if (event.type === 'DELETED') {
          if (old !== undefined) {
            this.#remove(key);
            this.#emitDelete(obj);
          }
        } else if (old === undefined) {
          this.#store(key, obj);
          this.#emitAdd(obj);
        } else {
          this.#store(key, obj);
          this.#emitUpdate(old, obj);
        }
        const rv = obj.metadata.resourceVersion;
        if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
        return;
      }
      default:
        throw new Error(`watch ${this.#path}: unknown event type ${JSON.stringify(event.type)}`);
    }
  }

  /** The cached form of an object from the server: transformed once, then frozen. */
  #ingest(raw: KubeObject): T {
    let obj: T;
    try {
      obj = this.#opts.transform ? this.#opts.transform(raw) : (stripManagedFields(raw) as T);
    } catch (err) {
      this.#log.error({ err, key: objectKey(raw) }, 'Informer transform threw; caching the object as it came');
      obj = stripManagedFields(raw) as T;
    }
    return deepFreeze(obj);
  }

  #resync(): void {
    if (!this.#synced) return;
    for (const obj of this.#cache.values()) this.#emitUpdate(obj, obj);
  }

  // ---- cache and index maintenance -------------------------------------------------------------

  #store(key: string, obj: T): void {
    this.#unindex(key);
    this.#cache.set(key, obj);
    for (const [name, fn] of this.#indexers) {
      const index = this.#indices.get(name)!;
      for (const v of this.#indexValues(name, fn, key, obj, true)) {
        let set = index.get(v);
        if (!set) index.set(v, (set = new Set()));
        set.add(key);
      }
    }
  }

  #remove(key: string): void {
    this.#unindex(key);
    this.#cache.delete(key);
  }

  /** Takes the object cached under key out of every index (before it is replaced or removed). */
  #unindex(key: string): void {
    const old = this.#cache.get(key);
    if (old === undefined) return;
    for (const [name, fn] of this.#indexers) {
      const index = this.#indices.get(name)!;
      for (const v of this.#indexValues(name, fn, key, old, false)) {
        const set = index.get(v);
        set?.delete(key);
        if (set?.size === 0) index.delete(v);
      }
    }
  }

  /** The values obj is indexed under (none when the index function throws: logged once, when stored). */
  #indexValues(name: string, fn: IndexFunc<T>, key: string, obj: T, log: boolean): readonly string[] {
    try {
      return fn(obj);
    } catch (err) {
      if (log) this.#log.error({ err, index: name, key }, 'Index function threw; object not indexed under it');
      return [];
    }
  }

  #emitAdd(obj: T): void {
    for (const h of this.#handlers) if (h.onAdd) this.#call(() => h.onAdd?.(obj));
  }

  #emitUpdate(oldObj: T, newObj: T): void {
    for (const h of this.#handlers) if (h.onUpdate) this.#call(() => h.onUpdate?.(oldObj, newObj));
  }

  #emitDelete(obj: T): void {
    for (const h of this.#handlers) if (h.onDelete) this.#call(() => h.onDelete?.(obj));
  }

  /** A failing handler must not break the watch or other handlers. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ err }, 'Informer event handler threw');
    }
  }
}
