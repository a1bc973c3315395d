// Read-your-own-writes for status updates. Right after we patch an object, the informer may still hold the
// previous version for a few milliseconds; a reconcile in that window would recompute from stale state and
// pay a 409 round trip (and could log or count a transition twice). We remember, per object, the version a
// write was based on and its result: while the cache still shows the old version, readers get our result.
import { deepFreeze } from '../hash/freeze.ts';
import { stripManagedFields, type Informer } from '../runtime/informer.ts';
import { objectKey, type KubeObject } from '../runtime/resource.ts';

interface Entry {
  /** Versions our writes replaced (a quick second write replaces the first one's result). */
  superseded: Set<string>;
  after: KubeObject;
}

const MAX_ENTRIES = 10_000;

export class FreshObjects {
  readonly #entries = new Map<string, Entry>();

  /** Records that `after` (a server response) replaced `before`. */
  remember(before: KubeObject, after: KubeObject): void {
    const basedOn = before.metadata.resourceVersion;
    if (basedOn === undefined || after.metadata.resourceVersion === basedOn) return;
    const key = objectKey(after);
    const previous = this.#entries.get(key);
    const superseded = previous !== undefined && previous.after.metadata.uid === after.metadata.uid ? previous.superseded : new Set<string>();
    superseded.add(basedOn);
    this.#entries.delete(key);
    if (this.#entries.size >= MAX_ENTRIES) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { superseded, after: deepFreeze(stripManagedFields(after)) });
  }

  /**
   * The informer delivered `cached`: once it shows our write or a later version (or another incarnation),
   * the entry is not needed any more. Without this, an object nobody reconciles again would keep its entry.
   */
  observe(cached: KubeObject): void {
    const key = objectKey(cached);
    const e = this.#entries.get(key);
    if (e === undefined) return;
    const rv = cached.metadata.resourceVersion;
    if (rv === undefined || !e.superseded.has(rv) || e.after.metadata.uid !== cached.metadata.uid) this.#entries.delete(key);
  }

  /** Follows an informer: entries go once the cache caught up, and with the object. */
  follow(informer: Pick<Informer<KubeObject>, 'addHandlers'>): void {
    informer.addHandlers({
      onUpdate: (_old, obj) => this.observe(obj),
      onDelete: (obj) => this.#entries.delete(objectKey(obj)),
    });
  }

  /** The freshest known version: our write while the cache still shows what it replaced, else the cache. */
  read<T extends KubeObject>(cached: T | undefined): T | undefined {
    if (cached === undefined) return undefined;
    const key = objectKey(cached);
    const e = this.#entries.get(key);
    if (e === undefined) return cached;
    const rv = cached.metadata.resourceVersion;
    if (rv !== undefined && e.superseded.has(rv) && e.after.metadata.uid === cached.metadata.uid) return e.after as T;
    // The cache moved on (to our write or past it): it is authoritative again.
    this.#entries.delete(key);
    return cached;
  }

  size(): number {
    return this.#entries.size;
  }
}

/** Our latest status writes per kind, until the informers catch up (read-your-own-writes). */
export interface FreshWrites {
  proposals: FreshObjects;
  approvals: FreshObjects;
  jobs: FreshObjects;
}
