// Faults a node-level attacker can inject into a job Pod (dev/test only): the forged downward-API annotations
// a compromised kubelet could present to the runner, and a symlink planted in the workspace. The runner must
// refuse every one of them with a stable reason code before any step runs. Pure functions; the injector
// (node-fault-injector.ts) applies them inside the Pod.
import { randomUUID } from 'node:crypto';
import { ANNOTATIONS } from '../../src/api/group.ts';
import { canonicalHash, canonicalJson, sha256Hex } from '../../src/hash/canonical.ts';
import { generateSigningKey, signDeh } from '../../src/integrity/signing.ts';

/**
 * - `envelope`: a step argument of the signed envelope is rewritten, the DEH annotation left alone.
 * - `envelope-and-deh`: the same, with the DEH annotation recomputed to match (only the signature can tell).
 * - `deh`: the DEH annotation names another hash.
 * - `signature`: the signature is replaced by one from the attacker's own Ed25519 key over the real DEH.
 * - `job-uid`: the job UID annotation names another incarnation. It is not signed (the Pod carries the Job's
 *   one signature, over the DEH): the runner runs the signed envelope and reports the UID it was given, and
 *   the controller refuses that report (ReceiptJobMismatch).
 * - `unknown-tool`: a step running a tool that is not in the catalogue is appended (DEH recomputed).
 */
export const ANNOTATION_FAULTS = ['envelope', 'envelope-and-deh', 'deh', 'signature', 'job-uid', 'unknown-tool'] as const;
export type AnnotationFault = (typeof ANNOTATION_FAULTS)[number];

/**
 * The reason code the runner gives for each fault (its checks run in this order: DEH, signature); null when
 * the runner does not refuse it.
 */
export const EXPECTED_REFUSAL = {
  envelope: 'DEH_MISMATCH',
  'envelope-and-deh': 'SIGNATURE_INVALID',
  deh: 'DEH_MISMATCH',
  signature: 'SIGNATURE_INVALID',
  'job-uid': null,
  'unknown-tool': 'SIGNATURE_INVALID',
} as const satisfies Readonly<Record<AnnotationFault, string | null>>;

/** What the injector does to one job's Pod. */
export interface FaultSpec {
  /** Forge the annotations the runner reads. */
  annotations?: AnnotationFault;
  /** Create `workspace/<link>` → `target` before the runner starts. */
  symlink?: { link: string; target: string };
}

/** The plan file the injector reads: `<namespace>/<job name>` → fault. Jobs not listed run untouched. */
export type FaultPlan = Record<string, FaultSpec>;

/** The tool an `unknown-tool` fault adds; no Tool of that name is installed. */
export const UNKNOWN_TOOL = 'shell';

function required(annotations: ReadonlyMap<string, string>, key: string): string {
  const v = annotations.get(key);
  if (v === undefined) throw new Error(`annotation ${key} is missing; nothing to tamper with`);
  return v;
}

interface EnvelopeLike {
  steps: { tool: string; args: Record<string, string> }[];
  [key: string]: unknown;
}

function rewriteFirstStep(envelope: EnvelopeLike): void {
  const step = envelope.steps[0];
  if (step === undefined) throw new Error('the envelope has no step to rewrite');
  const key = Object.keys(step.args)[0];
  if (key === undefined) step.args = { message: 'injected by the node' };
  else step.args[key] = `${step.args[key] ?? ''} (rewritten by the node)`;
}

/** Returns a forged copy of the Pod's annotations (the input is not modified). */
export function forgeAnnotations(annotations: ReadonlyMap<string, string>, fault: AnnotationFault): Map<string, string> {
  const out = new Map(annotations);
  const envelope = JSON.parse(required(annotations, ANNOTATIONS.envelope)) as EnvelopeLike;
  const deh = required(annotations, ANNOTATIONS.envelopeHash);
  switch (fault) {
    case 'envelope':
      rewriteFirstStep(envelope);
      out.set(ANNOTATIONS.envelope, canonicalJson(envelope));
      return out;
    case 'envelope-and-deh':
      rewriteFirstStep(envelope);
      out.set(ANNOTATIONS.envelope, canonicalJson(envelope));
      out.set(ANNOTATIONS.envelopeHash, canonicalHash(envelope));
      return out;
    case 'deh':
      out.set(ANNOTATIONS.envelopeHash, sha256Hex(`not ${deh}`));
      return out;
    case 'signature':
      out.set(ANNOTATIONS.signature, signDeh(generateSigningKey().privateKeyPem, deh));
      return out;
    case 'job-uid':
      out.set(ANNOTATIONS.jobUID, randomUUID());
      return out;
    case 'unknown-tool':
      envelope.steps.push({ tool: UNKNOWN_TOOL, args: { command: 'cat /etc/shadow' } });
      out.set(ANNOTATIONS.envelope, canonicalJson(envelope));
      out.set(ANNOTATIONS.envelopeHash, canonicalHash(envelope));
      return out;
  }
}
