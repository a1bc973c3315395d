import type { EffectiveEnvelope } from '../api/envelope.ts';
import { hash } from 'node:crypto';
import { canonicalHash } from '../hash/canonical.ts';

/**
 * The DEH of an envelope built by buildEffectiveEnvelope, which inserts every key in RFC 8785 order
 * (UTF-16 code-unit order; no key is integer-like, so insertion order is serialisation order). For such an
 * object JSON.stringify *is* the canonical form: same key order, same number and string serialisation.
 * The one difference, lone surrogates (JSON.stringify escapes them, RFC 8785 refuses them), is routed to
 * src/hash, which refuses them. Tests check the result equals src/hash `envelopeHash` for every envelope
 * the engine emits. This keeps the per-decision hash at a few microseconds, where the general-purpose
 * canonicaliser costs more than the whole rest of the decision.
 */
export function engineEnvelopeHash(envelope: EffectiveEnvelope): string {
  const json = JSON.stringify(envelope);
  if (json.includes('\\ud')) return canonicalHash(envelope); // possibly a lone surrogate: let src/hash decide
  return hash('sha256', json, 'hex'); // one-shot SHA-256 of the UTF-8 bytes, as src/hash sha256Hex
}
