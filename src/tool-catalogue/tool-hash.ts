import { ToolSpec } from '../api/tool.ts';
import { schemaHash } from '../integrity/document-hashes.ts';

const hashes = new WeakMap<object, string>();

/**
 * The tool hash: SHA-256 of the RFC 8785 form of the parsed Tool spec (defaults applied, unknown fields
 * refused), through the project's one hashing function. A Decision records it per step; a tool edited
 * afterwards hashes differently, so the Job does not start (ToolChanged) and the runner refuses it.
 * Throws CanonicalizationError naming the field when the spec is not a valid Tool spec.
 */
export function toolHash(spec: unknown): string {
  const cacheable = spec !== null && typeof spec === 'object' && Object.isFrozen(spec);
  if (cacheable) {
    const known = hashes.get(spec);
    if (known !== undefined) return known;
  }
  const h = schemaHash(ToolSpec, spec, 'spec');
  if (cacheable) hashes.set(spec, h);
  return h;
}
