import { z } from 'zod';
import { boundedList, sha256Hex, text } from './primitives.ts';

/**
 * The runner's receipt, written to the termination message (at most 4096 bytes, Kubernetes' limit) and
 * verified by the controller before it records a job as Succeeded.
 */
export const RECEIPT_MAX_BYTES = 4096;

export const Receipt = z
  .object({
    v: z.literal(1).meta({ description: 'Receipt format version.' }),
    status: z.enum(['Succeeded', 'Failed', 'Refused']).meta({ description: 'Succeeded, Failed (a step failed) or Refused (a check failed before or during the run).' }),
    reasonCode: z.string().max(64).regex(/^[A-Z][A-Z0-9_]*$|^$/).meta({ description: 'Stable reason code of a refusal or failure; empty on success.' }),
    jobUID: text(64, 'UID of the Job the runner executed.'),
    deh: z
      .object({
        claimed: text(64, 'DEH from the Pod annotation.'),
        recomputed: text(64, 'DEH the runner recomputed from the envelope.'),
        verified: z.boolean().meta({ description: 'Whether signature, DEH and manifest checks all passed.' }),
      })
      .meta({ description: 'Deployment envelope hash evidence.' }),
    steps: boundedList(
      z
        .object({
          tool: text(63, 'Tool name.'),
          exitCode: z.int().min(-1).max(255).meta({ description: 'Exit code (-1 when not started or killed).' }),
          outputHash: text(64, 'SHA-256 of the captured output.'),
        })
        .meta({ description: 'One executed step.' }),
      32,
      'Executed steps.',
    ),
    usage: z
      .object({
        steps: z.int().min(0).meta({ description: 'Steps executed.' }),
        toolCalls: z.int().min(0).meta({ description: 'Tool calls made.' }),
        runtimeMs: z.int().min(0).meta({ description: 'Wall-clock runtime in milliseconds.' }),
        externalIO: z.int().min(0).meta({ description: 'Requests through the egress gate.' }),
      })
      .meta({ description: 'Budget usage.' }),
    artifacts: boundedList(
      z.object({ path: text(512, 'Workspace-relative path.'), sha256: sha256Hex('Digest of the artifact.') }).meta({ description: 'A produced artifact.' }),
      16,
      'Artifacts produced, with digests.',
    ),
    truncated: z
      .object({
        stepsOmitted: z.int().min(0).max(32).meta({ description: 'Steps left out to fit the 4096-byte limit.' }),
        artifactsOmitted: z.int().min(0).max(16).meta({ description: 'Artifacts left out to fit the 4096-byte limit.' }),
      })
      .optional()
      .meta({ description: 'Present when per-step or artifact detail was dropped to keep the receipt within 4096 bytes.' }),
  })
  .meta({ description: 'The runner receipt.' });
export type Receipt = z.infer<typeof Receipt>;
