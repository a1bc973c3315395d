// A job Pod's end as the kubelet publishes it, for tests that run no kubelet: the Pod's status with the runner
// container terminated and its termination message (the receipt). Also the receipt a runner that succeeded
// writes, and the audit file the controller appends to (one record per line).
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { AuditRecord } from '../../src/api/audit.ts';
import type { Job } from '../../src/api/kinds.ts';
import type { Receipt } from '../../src/api/receipt.ts';
import { sha256Hex } from '../../src/hash/canonical.ts';
import { kubeRequest } from '../../src/runtime/kube-http.ts';

/** A Succeeded receipt consistent with the Job in every field: each step exited 0 with output `outputOf`. */
export function succeededReceipt(job: Job, opts: { artifacts: Receipt['artifacts']; outputOf?: string; runtimeMs?: number }): Receipt {
  const deh = job.spec.envelopeHash;
  const steps = job.spec.envelope.steps;
  return {
    v: 1,
    status: 'Succeeded',
    reasonCode: '',
    jobUID: job.metadata.uid ?? '',
    deh: { claimed: deh, recomputed: deh, verified: true },
    steps: steps.map((s) => ({ tool: s.tool, exitCode: 0, outputHash: sha256Hex(opts.outputOf ?? 'ok') })),
    usage: { steps: steps.length, toolCalls: steps.length, runtimeMs: opts.runtimeMs ?? 100, externalIO: 0 },
    artifacts: opts.artifacts,
  };
}

/** Publishes the runner container's termination (exit code 0 → Succeeded, else Failed) with `message` on the Pod. */
export async function simulateRunnerExit(kc: KubeConfig, pod: { namespace: string; name: string; image: string }, message: string, exitCode = 0): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  await kubeRequest(kc, {
    method: 'PATCH',
    path: `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}/status`,
    contentType: 'application/merge-patch+json',
    body: {
      status: {
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        containerStatuses: [
          {
            name: 'runner',
            image: pod.image,
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', message, startedAt: now, finishedAt: now } },
          },
        ],
      },
    },
  });
}

/** The audit records in `file` (none while it does not exist). Every line must parse: a record is one append. */
export function readAuditRecords(file: string): AuditRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => AuditRecord.parse(JSON.parse(l)));
}
