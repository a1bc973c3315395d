// RFC 7386 JSON merge patch generation. Status writers compute the patch between what they read and what
// they want, so fields they removed are sent as null (a plain "send the new status" merge patch would
// silently keep removed fields), and an empty diff means "no write at all".

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Structural equality for JSON values (undefined object members count as absent). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The merge patch that turns `from` into `to`, or undefined when they are equal. Arrays are replaced
 * whole (RFC 7386 has no array merge). A `null` inside `to` means "delete" on the server.
 */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (isPlainObject(from) && isPlainObject(to)) {
    const patch: Record<string, unknown> = {};
    for (const key of Object.keys(from)) {
      if (from[key] !== undefined && (!Object.hasOwn(to, key) || to[key] === undefined)) patch[key] = null;
    }
    for (const key of Object.keys(to)) {
      const value = to[key];
      if (value === undefined) continue;
      if (!Object.hasOwn(from, key) || from[key] === undefined) {
        patch[key] = value;
        continue;
      }
      const sub = createMergePatch(from[key], value);
      if (sub !== undefined) patch[key] = sub;
    }
    return Object.keys(patch).length === 0 ? undefined : patch;
  }
  if (jsonEqual(from, to)) return undefined;
  return to === undefined ? null : to;
}

/** Applies a merge patch (RFC 7386) to a value; used by tests and for local previews. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}
