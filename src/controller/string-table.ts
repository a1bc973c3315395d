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

const UNIQUE_KEYS: ReadonlySet<string> = new Set(['uid', 'resourceVersion', 'message']);

export class StringTable {
  readonly #strings = new Map<string, string>();
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

  #walk(value: unknown): void {
    if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        if (typeof v === 'string') value[i] = this.intern(v);
        else this.#walk(v);
      }
      return;
    }
    const obj = value as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      if (typeof v === 'string') {
        if (!UNIQUE_KEYS.has(key)) obj[key] = this.intern(v);
      } else {
        this.#walk(v);
      }
    }
  }
}
