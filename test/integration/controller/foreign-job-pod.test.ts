// A job Pod the controller did not create is never believed. Someone allowed to create Pods in a job namespace
// (a namespace editor) creates `m87-job-<job>` first — no m87 labels or annotations, so admission does not
// look at it, but with an owner reference to the governance Job — and has it write a receipt that matches
// the Job in every field the receipt carries (all of them are public). Before issue 13 the controller adopted
// that Pod and recorded Succeeded and EnvelopeVerified=True from its receipt; now the Job fails at once
// (PodEnvelopeMismatch), and the receipt is never read.
//
// The controller would create its own Pod within milliseconds of the Job, so the test holds it back the way
// the controller itself does: the namespace first does not enforce Pod Security "restricted" (the Job waits
// with NamespaceNotRestricted), the foreign Pod is created, then the label is restored.
import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../../src/api/group.ts';
import { Job } from '../../../src/api/kinds.ts';
import type { Receipt } from '../../../src/api/receipt.ts';
import { PODS } from '../../../src/controller/resources.ts';
import { sha256Hex } from '../../../src/hash/canonical.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { waitFor } from '../../support/kube.ts';
import { simulateRunnerExit } from '../../support/runner-exit.ts';
import { admin, caseySpec, get, JOBS, propose, RUNNER_IMAGE, setupEnv, startTestController } from './harness.ts';

const env = await setupEnv('m87-foreign');
await startTestController(env);

const ENFORCE = 'pod-security.kubernetes.io/enforce';

async function setEnforceLabel(value: string | null): Promise<void> {
  await kubeRequest(admin, {
    method: 'PATCH',
    path: `/api/v1/namespaces/${env.jobNamespace}`,
    contentType: 'application/merge-patch+json',
    body: { metadata: { labels: { [ENFORCE]: value } } },
  });
}

type Condition = { type: string; status: string; reason: string };
const conditionOf = (o: KubeObject | undefined, type: string): Condition | undefined =>
  ((o?.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

describe('a job Pod someone else created', () => {
  it('fails the Job (PodEnvelopeMismatch) and its forged receipt is never read', async () => {
    await setEnforceLabel(null);
    const name = 'foreign-pod';
    await propose(env, 'casey', name, caseySpec(env));
    const waiting = await waitFor(
      async () => {
        const j = await get(JOBS, env.jobNamespace, name);
        return (j?.status as { reason?: string } | undefined)?.reason === 'NamespaceNotRestricted' ? j : undefined;
      },
      { what: 'the Job waiting for a restricted namespace' },
    );
    const job = Job.parse(waiting);
    const uid = job.metadata.uid ?? '';

    // The foreign Pod: the job Pod's name, the Job as controlling owner, no m87 metadata.
    const podName = `m87-job-${name}`;
    await kubeRequest(admin, {
      method: 'POST',
      path: resourcePath(PODS, { namespace: env.jobNamespace }),
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: podName, ownerReferences: [{ apiVersion: API_VERSION, kind: 'Job', name, uid, controller: true }] },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'runner',
              image: RUNNER_IMAGE,
              command: ['m87', 'runner'],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    });
    // Its "runner" reports success, consistent with the Job in every field (the kubelet publishes it).
    const deh = job.spec.envelopeHash;
    const steps = job.spec.envelope.steps;
    const forged: Receipt = {
      v: 1,
      status: 'Succeeded',
      reasonCode: '',
      jobUID: uid,
      deh: { claimed: deh, recomputed: deh, verified: true },
      steps: steps.map((s) => ({ tool: s.tool, exitCode: 0, outputHash: sha256Hex('forged') })),
      usage: { steps: steps.length, toolCalls: steps.length, runtimeMs: 100, externalIO: 0 },
      artifacts: [{ path: 'NOTES.md', sha256: sha256Hex('v1') }],
    };
    await simulateRunnerExit(admin, { namespace: env.jobNamespace, name: podName, image: RUNNER_IMAGE }, JSON.stringify(forged));

    await setEnforceLabel('restricted');
    // The jobs controller re-checks the namespace after its requeue (30 s) and finds the foreign Pod.
    const done = await waitFor(
      async () => {
        const j = await get(JOBS, env.jobNamespace, name);
        const phase = (j?.status as { phase?: string } | undefined)?.phase;
        return phase === 'Succeeded' || phase === 'Failed' ? j : undefined;
      },
      { what: 'the Job to finish', timeoutMs: 90_000 },
    );
    const status = done.status as { phase: string; reason: string; receipt?: unknown };
    expect(status).toMatchObject({ phase: 'Failed', reason: 'PodEnvelopeMismatch' });
    expect(status.receipt).toBeUndefined();
    expect(conditionOf(done, 'EnvelopeVerified')).toMatchObject({ status: 'False', reason: 'PodEnvelopeMismatch' });
    expect(conditionOf(done, 'Succeeded')).toMatchObject({ status: 'False', reason: 'PodEnvelopeMismatch' });
  }, 150_000);
});
