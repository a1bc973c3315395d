// One copy of each repeated string in the controller's caches. JSON.parse makes a new string for every
// value it reads, so 10,000 cached trees hold 10,000 copies of the namespace, the API versions and kinds of
// owner references, the submitter, condition types, reasons and messages, tool images and hashes, and every
// value one tree repeats (the proposal hash in the Proposal's status, the Decision and both envelopes). The
// informers' transforms pass what they keep through a table: a string already in it is replaced by the
// table's copy (keys of objects are V8's own internalized strings already).
//
// The table is bounded: when it holds `capacity` strings it starts over (strings still referenced by cached
// objects stay alive with them; later arrivals share a new copy). Strings longer than `maxLength` and the
// values of keys that are unique per object version (uid, resourceVersion) or per status (message) are left
// as they are: the table would be their only holder once the object moved on (a heap snapshot at 10,000
// finished trees found 5.5 MiB of strings only the table kept, most of them patches, receipts and
// condition messages of objects cached since in their compact form).
//
// Short lists of strings (effects, allowed effects: the same few combinations in every tree, three times
// per ALLOW tree) are shared the same way: one frozen array per distinct list.

const UNIQUE_KEYS: ReadonlySet<string> = new Set(['uid', 'resourceVersion', 'message']);
/** Lists of at most this many strings are shared whole. */
const MAX_SHARED_LIST = 8;

export class StringTable {
  readonly #strings = new Map<string, string>();
  readonly #lists = new Map<string, readonly string[]>();
  readonly #capacity: number;
  readonly #maxLength: number;

  constructor(opts: { capacity?: number; maxLength?: number } = {}) {
    this.#capacity = opts.capacity ?? 50_000;
    this.#maxLength = opts.maxLength ?? 128;
  }

  intern(s: string): string {
    if (s.length > this.#maxLength) return s;
    const known = this.#strings.get(s);
    if (known !== undefined) return known;
    if (this.#strings.size >= this.#capacity) this.#strings.clear();
    this.#strings.set(s, s);
    return s;
  }

  size(): number {
    return this.#strings.size;
  }

  /**
   * Replaces, in place, every string value reachable from `value` (a JSON graph the caller owns and has not
   * frozen yet) by the table's copy; frozen parts (already shared) are left alone. Returns `value`.
   */
  internAll<T>(value: T): T {
    this.#walk(value);
    return value;
  }

  /** One frozen copy of a short list of short strings (its strings interned), or undefined for any other array. */
  #sharedList(list: readonly unknown[]): readonly string[] | undefined {
    if (list.length === 0 || list.length > MAX_SHARED_LIST) return undefined;
    for (const v of list) if (typeof v !== 'string' || v.length > this.#maxLength) return undefined;
    const strings = list as readonly string[];
    // The key must tell every two lists apart: a separator joined key does not (['a\0b'] and ['a', 'b'], or
    // ['\0'] and ['', ''], were one key, and an agent's list then stood in the cache for another proposal's).
    const key = JSON.stringify(strings);
    const known = this.#lists.get(key);
    if (known !== undefined) return known;
    if (this.#lists.size >= this.#capacity) this.#lists.clear();
    const shared = Object.freeze(strings.map((x) => this.intern(x)));
    this.#lists.set(key, shared);
    return shared;
  }

  /** The value to keep in place of `v`: the table's copy of a string or short list, else `v` walked in place. */
  #internValue(v: unknown, key: string | undefined): unknown {
    if (typeof v === 'string') return key !== undefined && UNIQUE_KEYS.has(key) ? v : this.intern(v);
    if (Array.isArray(v) && !Object.isFrozen(v)) {
      const shared = this.#sharedList(v);
      if (shared !== undefined) return shared;
    }
    this.#walk(v);
    return v;
  }

  #walk(value: unknown): void {
    if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        // Assigned even when equal: equal strings compare equal whatever copy they are.
        value[i] = this.#internValue(value[i], undefined);
      }
      return;
    }
    const obj = value as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      obj[key] = this.#internValue(obj[key], key);
    }
  }
}
