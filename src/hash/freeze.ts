// Freezing a JSON value graph, the one implementation: compiled policies and envelopes, the tool manifest
// and the objects in the controller runtime's caches are shared by reference and must never change.

/** Freezes `value` and everything reachable from it, in place; an object already frozen is taken as done. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
