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
    isolation: z
      .object({
        apiServer: z
          .object({
            result: z.enum(['blocked', 'no-route']).meta({
              description:
                'blocked: the connect to the API server was refused or timed out (its address is routed; the NetworkPolicy said no). no-route: the Pod has no route to it (addressing, not policy).',
            }),
            cause: z.string().max(32).regex(/^[A-Za-z0-9_-]*$/).meta({ description: 'What the connect saw: ECONNREFUSED, timeout, EHOSTUNREACH or ENETUNREACH.' }),
            checks: z.int().min(1).max(64).meta({ description: 'Containers of the Pod that checked (each checks before it acts); result and cause are the weakest of them.' }),
            attempts: z.int().min(1).max(1000).meta({ description: 'Connect attempts of the check that took longest (more than one: an early attempt got through before the policy was in place).' }),
            waitedMs: z.int().min(0).max(600_000).meta({ description: 'Milliseconds that check waited for the API server to become unreachable.' }),
          })
          .meta({ description: "The runner's self-check that the API server is unreachable from the Pod." }),
      })
      .optional()
      .meta({ description: 'Isolation self-check evidence (absent in receipts of runners that predate it, and when the check did not complete).' }),
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
