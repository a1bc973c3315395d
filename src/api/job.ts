import { z } from 'zod';
import { EffectiveEnvelope } from './envelope.ts';
import { boundedList, Conditions, IMMUTABLE_SPEC, nonEmptyText, ObjectRef, sha256Hex, text, timestamp } from './primitives.ts';
import { Receipt } from './receipt.ts';

export const JobSpec = z
  .object({
    proposalRef: ObjectRef,
    decisionRef: ObjectRef,
    approvalRefs: boundedList(ObjectRef, 16, 'Approvals that authorised the job (empty when policy allowed it outright).').default([]),
    envelope: EffectiveEnvelope,
    envelopeHash: sha256Hex('DEH: SHA-256 of the RFC 8785 form of envelope.'),
    signature: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[A-Za-z0-9+/=]+$/)
      .meta({ description: 'Base64 Ed25519 signature by the controller over the DEH.' }),
    keyId: nonEmptyText(128, 'Identifier of the signing key (its public key is published in a ConfigMap).'),
  })
  .meta({ description: 'An approved unit of work: the signed effective envelope. Written by the controller only; immutable.', 'x-kubernetes-validations': IMMUTABLE_SPEC });
export type JobSpec = z.infer<typeof JobSpec>;

export const JOB_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;
export const JobPhase = z.enum(JOB_PHASES).meta({ description: `Pending, Running, Succeeded or Failed.` });
export type JobPhase = z.infer<typeof JobPhase>;

/** The phases of a Job whose result is recorded: final, the job reconciler never acts on it again. */
export const TerminalJobPhase = JobPhase.extract(['Succeeded', 'Failed']);
export type TerminalJobPhase = z.infer<typeof TerminalJobPhase>;
export const TERMINAL_JOB_PHASES: ReadonlySet<string> = new Set<string>(TerminalJobPhase.options);

/** Whether a Job's status.phase says its result is recorded (anything else, undefined included: not yet). */
export function isTerminalJobPhase(phase: unknown): phase is TerminalJobPhase {
  return typeof phase === 'string' && TERMINAL_JOB_PHASES.has(phase);
}

export const JobStatus = z
  .object({
    phase: JobPhase.optional(),
    reason: text(64, 'CamelCase reason for the phase (or the runner reason code).').optional(),
    message: text(4096, 'Human-readable explanation.').optional(),
    podName: text(253, 'Name of the Pod running the job.').optional(),
    networkPolicyName: text(253, 'Name of the NetworkPolicy isolating the Pod.').optional(),
    startTime: timestamp('When the Pod was created.').optional(),
    completionTime: timestamp('When the job finished.').optional(),
    receipt: Receipt.optional(),
    conditions: Conditions.optional(),
    observedGeneration: z.int().min(0).optional().meta({ description: 'The metadata.generation this status describes.' }),
  })
  .meta({ description: 'Observed state, written by the controller only.' });
export type JobStatus = z.infer<typeof JobStatus>;
