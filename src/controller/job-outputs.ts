// A step Pod's declared outputs, collected once the runner terminated and before anything deletes the Pod:
// the `runner` container's log (pods/log; the Pod holds no credentials to store anything itself) is decoded
// frame by frame and matched one to one with the receipt's outputs/<step>/<name> digests, then stored in a
// ConfigMap owned by the Job (src/api/job-outputs.ts). All or nothing: any difference fails the Job with the
// code naming it, and nothing is stored.
import { LABELS } from '../api/group.ts';
import { jobOutputsName, OUTPUTS_INDEX_KEY, OUTPUTS_TOTAL_MAX_BYTES, outputDataKey, type StoredOutput } from '../integrity/job-outputs.ts';
import type { Receipt } from '../api/receipt.ts';
import { collectOutputs, FrameError, OUTPUT_ARTIFACT_PREFIX, outputArtifactPath } from '../integrity/framed-output.ts';
import type { KubeClient } from '../runtime/kube-access.ts';
import type { ReconcileContext } from '../runtime/controller.ts';
import { isNotFound, kubeRequestText } from '../runtime/kube-http.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { createIfAbsent } from '../runtime/status.ts';
import { RUNNER_CONTAINER } from './job-pod.ts';
import { FIELD_MANAGER, labelValue, MANAGED_BY } from './names.ts';
import { controllerRef, isControlledBy } from './owner.ts';
import { CONFIG_MAPS } from './resources.ts';

export type OutputsResult = { ok: true; stored: number } | { ok: false; reason: string; message: string } | { ok: 'retry'; message: string };

/** How long after the runner terminated a log that cannot be read (not: is gone) is asked for again. */
export const LOG_READ_RETRY_MS = 60_000;

/** Whether the receipt lists declared outputs (then they must be collected). */
export function receiptHasOutputs(receipt: Receipt | undefined): boolean {
  return receipt?.artifacts.some((a) => a.path.startsWith(OUTPUT_ARTIFACT_PREFIX)) ?? false;
}

/** The ConfigMap for a Job's outputs. Pure. */
export function outputsConfigMap(job: { namespace: string; name: string; uid: string }, outputs: readonly { step: number; name: string; bytes: Buffer; sha256: string }[]): KubeObject {
  const index: StoredOutput[] = outputs.map((o) => ({
    step: o.step,
    name: o.name,
    path: outputArtifactPath(o.step, o.name),
    size: o.bytes.length,
    sha256: o.sha256,
    key: outputDataKey(o.step, o.name),
  }));
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: jobOutputsName(job.name),
      namespace: job.namespace,
      labels: { [LABELS.job]: labelValue(job.name), [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [controllerRef('Job', job)],
    },
    data: { [OUTPUTS_INDEX_KEY]: JSON.stringify(index) },
    binaryData: Object.fromEntries(outputs.map((o) => [outputDataKey(o.step, o.name), o.bytes.toString('base64')])),
    immutable: true,
  };
}

/** Reads the runner's log, checks every output against the receipt and stores them; never a partial set. */
export async function collectJobOutputs(
  kc: KubeClient,
  job: { namespace: string; name: string; uid: string },
  podName: string,
  receipt: Receipt,
  ctx: Pick<ReconcileContext, 'fence' | 'signal'>,
  /** Milliseconds since the runner terminated: a transient read error is retried within LOG_READ_RETRY_MS. */
  sinceTerminatedMs = Infinity,
): Promise<OutputsResult> {
  let log: string;
  try {
    log = await kubeRequestText(kc, {
      method: 'GET',
      path: `/api/v1/namespaces/${job.namespace}/pods/${podName}/log`,
      query: { container: RUNNER_CONTAINER },
      signal: ctx.signal,
    });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    const gone = isNotFound(err);
    // The node answered moments ago (it reported the termination): an error other than "gone" may pass.
    if (!gone && sinceTerminatedMs < LOG_READ_RETRY_MS) return { ok: 'retry', message: `The runner's log cannot be read yet (${(err as Error).message.slice(0, 300)}).` };
    return { ok: false, reason: 'OUTPUT_MISSING', message: `The runner's log ${gone ? 'is gone' : 'cannot be read'} (${(err as Error).message.slice(0, 300)}); its declared outputs cannot be collected.` };
  }
  let outputs;
  try {
    outputs = collectOutputs(log, receipt.artifacts);
  } catch (err) {
    if (!(err instanceof FrameError)) throw err;
    return { ok: false, reason: err.code, message: `Outputs: ${err.message}; nothing is stored.` };
  }
  const total = outputs.reduce((n, o) => n + o.bytes.length, 0);
  if (total > OUTPUTS_TOTAL_MAX_BYTES) {
    return { ok: false, reason: 'OUTPUT_TOO_LARGE', message: `Outputs: ${total} bytes in all, more than the ${OUTPUTS_TOTAL_MAX_BYTES} a Job may store; nothing is stored.` };
  }
  const desired = outputsConfigMap(job, outputs);
  const { object } = await createIfAbsent<KubeObject>(kc, CONFIG_MAPS, desired, { fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal });
  if (!isControlledBy(object, job.uid)) {
    return { ok: false, reason: 'OutputsConflict', message: `ConfigMap ${desired.metadata.name} exists and does not belong to this Job; the outputs are not stored.` };
  }
  const existing = (object as { data?: Record<string, string> }).data?.[OUTPUTS_INDEX_KEY];
  if (existing !== (desired as { data?: Record<string, string> }).data?.[OUTPUTS_INDEX_KEY]) {
    return { ok: false, reason: 'OutputsConflict', message: `ConfigMap ${desired.metadata.name} holds other outputs than the runner's log; nothing more is stored.` };
  }
  return { ok: true, stored: outputs.length };
}
