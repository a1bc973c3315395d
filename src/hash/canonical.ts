import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * The one place documents are hashed: RFC 8785 (JSON Canonicalization Scheme) + SHA-256, lowercase hex.
 * Used for the proposal hash, the deployment envelope hash (DEH), the policy hash and the tool manifest
 * hash, by the controller, the runner, the kubectl plugin and the tests alike.
 */
export class CanonicalizationError extends Error {
  override name = 'CanonicalizationError';
}

/** Numbers from here on serialise in exponent form (1e+21), which claims no integer precision. */
const EXPONENT_FORM_FROM = 1e21;

/**
 * Refuses anything whose canonical form would be ambiguous: non-finite numbers, integers beyond 2^53 - 1 that
 * would serialise as plain digits (9007199254740993 reads as ...992, so two source integers could hash the
 * same; I-JSON, which RFC 8785 builds on, rules them out), and values that are not plain JSON. Object
 * properties whose value is undefined are treated as absent.
 */
function assertPlainJson(value: unknown, path: string): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalizationError(`${path}: ${value} is not a finite number`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value) && Math.abs(value) < EXPONENT_FORM_FROM) {
        throw new CanonicalizationError(`${path}: integer ${value} is outside ±(2^53-1) and cannot be hashed unambiguously`);
      }
      return;
    case 'object': {
      if (value === null) return;
      if (Array.isArray(value)) {
        value.forEach((v, i) => {
          if (v === undefined) throw new CanonicalizationError(`${path}[${i}]: undefined is not JSON`);
          assertPlainJson(v, `${path}[${i}]`);
        });
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalizationError(`${path}: ${value.constructor?.name ?? 'object'} is not a plain JSON object`);
      }
      for (const [k, v] of Object.entries(value)) {
        if (v !== undefined) assertPlainJson(v, `${path}.${k}`);
      }
      return;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      throw new CanonicalizationError(`${path}: ${typeof value} is not JSON`);
  }
}

/** RFC 8785 canonical JSON of a plain JSON value. */
export function canonicalJson(value: unknown): string {
  assertPlainJson(value, '$');
  let out: string | undefined;
  try {
    out = canonicalize(value);
  } catch (e) {
    throw new CanonicalizationError(`$: ${(e as Error).message}`);
  }
  if (out === undefined) throw new CanonicalizationError('$: value has no JSON form');
  return out;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of the canonical JSON of a plain value. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
