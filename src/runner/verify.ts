import { createPublicKey, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { EFFECT_SCHEMA_VERSION } from '../api/effects.ts';
import { EffectiveEnvelope } from '../api/envelope.ts';
import { ANNOTATIONS } from '../api/group.ts';
import { canonicalHash, CanonicalizationError } from '../hash/canonical.ts';
import { keyIdOf, verifyDeh, verifyJobBinding } from '../integrity/signing.ts';
import { toolManifestHash } from '../tool-catalogue/manifest.ts';
import { stop } from './codes.ts';

/**
 * Envelope verification, failing closed at the first problem, in this order: the envelope annotation parses
 * and passes the schema (no unknown fields); the DEH recomputed from it equals the envelope-hash annotation;
 * the key id is the mounted public key's; the Ed25519 signature over the DEH verifies; the job name is the
 * proposal's; the job-binding signature over {namespace, jobName, jobUID, DEH} verifies (this authenticates
 * the job UID); the envelope's tool-manifest hash is the runner's own; the effect schema version is the
 * runner's.
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
  jobName: string;
  jobUID: string;
  keyId: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The envelope schema with the effect schema version loosened to any string, so a version mismatch in an
 * otherwise authentic envelope is reported as exactly that (and only after the signature checks).
 */
const EnvelopeForVerification = EffectiveEnvelope.extend({ effectSchemaVersion: z.string().min(1).max(32) });

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

/** Paths of fields the schema would silently drop: an envelope carrying them is not the one that was signed. */
function unknownFields(raw: unknown, parsed: unknown, path: string, out: string[]): void {
  if (out.length > 0) return;
  if (Array.isArray(raw) && Array.isArray(parsed)) {
    raw.forEach((v, i) => unknownFields(v, parsed[i], `${path}[${i}]`, out));
    return;
  }
  if (raw !== null && typeof raw === 'object' && parsed !== null && typeof parsed === 'object' && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      if (!Object.hasOwn(parsed, k)) {
        out.push(`${path}.${k}`);
        return;
      }
      unknownFields(v, (parsed as Record<string, unknown>)[k], `${path}.${k}`, out);
    }
  }
}

function parseEnvelope(text: string): EffectiveEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    stop('ENVELOPE_MALFORMED', `annotation ${ANNOTATIONS.envelope}: not JSON (${(e as Error).message})`);
  }
  const parsed = EnvelopeForVerification.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? 'envelope.' + issue.path.join('.') : 'envelope';
    stop('ENVELOPE_SCHEMA_INVALID', `${field}: ${issue?.message ?? 'invalid'}`);
  }
  const extra: string[] = [];
  unknownFields(raw, parsed.data, 'envelope', extra);
  if (extra.length > 0) stop('ENVELOPE_SCHEMA_INVALID', `${extra[0]}: unknown field`);
  // The version is checked last (see above); until then it is carried as a string.
  return parsed.data as EffectiveEnvelope;
}

export function verifyJob(
  annotations: ReadonlyMap<string, string>,
  publicKeyPem: string,
  evidence: DehEvidence,
  expectedManifestHash: string = toolManifestHash(),
): VerifiedJob {
  evidence.jobUID = annotations.get(ANNOTATIONS.jobUID) ?? '';
  evidence.claimed = annotations.get(ANNOTATIONS.envelopeHash) ?? '';
  evidence.verified = false;

  const envelopeText = required(annotations, ANNOTATIONS.envelope);
  const claimed = required(annotations, ANNOTATIONS.envelopeHash);
  const signature = required(annotations, ANNOTATIONS.signature);
  const keyId = required(annotations, ANNOTATIONS.keyId);
  const jobUID = required(annotations, ANNOTATIONS.jobUID);
  const jobName = required(annotations, ANNOTATIONS.jobName);
  const bindingSignature = required(annotations, ANNOTATIONS.bindingSignature);

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

  const namespace = envelope.proposal.namespace;
  if (jobName !== envelope.proposal.name) {
    stop('JOB_NAME_MISMATCH', `annotation ${ANNOTATIONS.jobName} ${jobName.slice(0, 63)} is not the proposal's name ${envelope.proposal.name}`);
  }
  if (!verifyJobBinding(publicKeyPem, { namespace, jobName, jobUID, deh }, bindingSignature)) {
    stop('JOB_BINDING_INVALID', `annotation ${ANNOTATIONS.bindingSignature}: the binding of job ${namespace}/${jobName} uid ${jobUID.slice(0, 64)} to the DEH does not verify`);
  }

  if (!sameHex(envelope.toolManifestHash, expectedManifestHash)) {
    stop('MANIFEST_HASH_MISMATCH', `envelope.toolManifestHash ${envelope.toolManifestHash.slice(0, 16)}… is not the runner's manifest ${expectedManifestHash.slice(0, 16)}…`);
  }
  if ((envelope.effectSchemaVersion as string) !== EFFECT_SCHEMA_VERSION) {
    stop('EFFECT_SCHEMA_VERSION_MISMATCH', `envelope.effectSchemaVersion ${String(envelope.effectSchemaVersion)} is not the runner's ${EFFECT_SCHEMA_VERSION}`);
  }

  evidence.verified = true;
  return { envelope, deh, namespace, jobName, jobUID, keyId };
}
