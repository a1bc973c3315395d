import { createPublicKey, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { EFFECT_SCHEMA_VERSION } from '../api/effects.ts';
import { EffectiveEnvelope } from '../api/envelope.ts';
import { ANNOTATIONS } from '../api/group.ts';
import { firstIssue } from '../api/issues.ts';
import { canonicalHash, CanonicalizationError } from '../hash/canonical.ts';
import { keyIdOf, verifyDeh } from '../integrity/signing.ts';
import { stop } from './codes.ts';
import { strictDeep } from './strict-schema.ts';

/**
 * Envelope verification, failing closed at the first problem, in this order: the envelope annotation parses
 * and passes the strict schema (no unknown fields anywhere); the DEH recomputed from it equals the
 * envelope-hash annotation; the key id is the mounted public key's; the Ed25519 signature over the DEH (the
 * Job's own signature, made when it was minted) verifies; the effect schema version is the runner's. Each
 * step's tool definition is then checked against the envelope step's toolHash and image (tool-step.ts).
 *
 * The job UID annotation is not signed: the runner only reports it (receipt, tool context). What binds the
 * work to the approval is the signed envelope, which names the proposal's namespace, name, UID and hash;
 * which Pod's report counts for which Job is the controller's check (docs/security.md, "Job identity").
 */

/** What the receipt reports about verification, filled in as far as verification got. */
export interface DehEvidence {
  jobUID: string;
  claimed: string;
  recomputed: string;
  verified: boolean;
}

export interface VerifiedJob {
  envelope: EffectiveEnvelope;
  deh: string;
  namespace: string;
  /** The governance Job's name: always its proposal's. */
  jobName: string;
  /** As the Pod's annotation says; reported, not authenticated. */
  jobUID: string;
  keyId: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The envelope schema, strict at every level, with the effect schema version loosened to any string, so a
 * version mismatch in an otherwise authentic envelope is reported as exactly that (after the signature checks).
 */
const EnvelopeForVerification = strictDeep(EffectiveEnvelope.extend({ effectSchemaVersion: z.string().min(1).max(32) }));

/** Loads a PEM public key; it must be Ed25519. */
export function loadPublicKey(pem: string): string {
  let key;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    stop('PUBLIC_KEY_INVALID', `M87_PUBLIC_KEY_FILE: not a PEM public key (${(e as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') stop('PUBLIC_KEY_INVALID', `M87_PUBLIC_KEY_FILE: key type ${key.asymmetricKeyType ?? 'unknown'} is not ed25519`);
  return pem;
}

function required(annotations: ReadonlyMap<string, string>, key: string): string {
  const v = annotations.get(key);
  if (v === undefined || v === '') stop('ANNOTATION_MISSING', `annotation ${key} is missing or empty`);
  return v;
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseEnvelope(text: string): EffectiveEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    stop('ENVELOPE_MALFORMED', `annotation ${ANNOTATIONS.envelope}: not JSON (${(e as Error).message})`);
  }
  const parsed = EnvelopeForVerification.safeParse(raw);
  if (!parsed.success) stop('ENVELOPE_SCHEMA_INVALID', firstIssue(parsed.error, 'envelope'));
  // The version is checked last (see above); until then it is carried as a string.
  return parsed.data as EffectiveEnvelope;
}

export function verifyJob(
  annotations: ReadonlyMap<string, string>,
  publicKeyPem: string,
  evidence: DehEvidence,
): VerifiedJob {
  evidence.jobUID = annotations.get(ANNOTATIONS.jobUID) ?? '';
  evidence.claimed = annotations.get(ANNOTATIONS.envelopeHash) ?? '';
  evidence.verified = false;

  const envelopeText = required(annotations, ANNOTATIONS.envelope);
  const claimed = required(annotations, ANNOTATIONS.envelopeHash);
  const signature = required(annotations, ANNOTATIONS.signature);
  const keyId = required(annotations, ANNOTATIONS.keyId);
  const jobUID = required(annotations, ANNOTATIONS.jobUID);

  const envelope = parseEnvelope(envelopeText);
  let deh: string;
  try {
    deh = canonicalHash(envelope);
  } catch (e) {
    if (e instanceof CanonicalizationError) stop('ENVELOPE_SCHEMA_INVALID', e.message);
    throw e;
  }
  evidence.recomputed = deh;
  if (!SHA256_HEX.test(claimed) || !sameHex(claimed, deh)) {
    stop('DEH_MISMATCH', `annotation ${ANNOTATIONS.envelopeHash} ${claimed.slice(0, 16)}… differs from the recomputed DEH ${deh.slice(0, 16)}…`);
  }

  const ourKeyId = keyIdOf(publicKeyPem);
  if (keyId !== ourKeyId) stop('KEY_ID_MISMATCH', `annotation ${ANNOTATIONS.keyId} ${keyId.slice(0, 32)} is not the mounted key ${ourKeyId}`);
  if (!verifyDeh(publicKeyPem, deh, signature)) stop('SIGNATURE_INVALID', `annotation ${ANNOTATIONS.signature}: the Ed25519 signature over the DEH does not verify`);

  if ((envelope.effectSchemaVersion as string) !== EFFECT_SCHEMA_VERSION) {
    stop('EFFECT_SCHEMA_VERSION_MISMATCH', `envelope.effectSchemaVersion ${String(envelope.effectSchemaVersion)} is not the runner's ${EFFECT_SCHEMA_VERSION}`);
  }

  evidence.verified = true;
  return { envelope, deh, namespace: envelope.proposal.namespace, jobName: envelope.proposal.name, jobUID, keyId };
}
