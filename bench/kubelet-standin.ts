// The soak's stand-in for the node: no kubelet runs on the bench's plane (running a runner process per ALLOW
// on the same 2 cores would measure the node), so without it no job would ever finish and retention, which
// deletes only finished trees, would keep every ALLOW tree. For each new job Pod it publishes what the kubelet
// publishes when the runner exits 0: the runner container terminated with the runner's receipt as its
// termination message (Succeeded, every step of the signed envelope exit 0, every output the steps' Tools
// declare listed), built from the Pod alone (its envelope, DEH and job UID annotations and the Tool specs of
// its step containers). One PATCH of pods/status per ALLOW, as a kubelet makes (it makes more).
import type { KubeConfig } from '@kubernetes/client-node';
import { ANNOTATIONS } from '../src/api/group.ts';
import type { Receipt } from '../src/api/receipt.ts';
import { RUNNER_CONTAINER } from '../src/controller/job-pod.ts';
import { jobPodView } from '../src/controller/job-pod-view.ts';
import { declaredOutputs } from '../src/controller/receipt-check.ts';
import { sha256Hex } from '../src/hash/canonical.ts';
import { sleep } from '../src/runtime/backoff.ts';
import { isNotFound, kubeRequest } from '../src/runtime/kube-http.ts';
import type { KubeObject } from '../src/runtime/resource.ts';

interface PodShape {
  metadata?: { annotations?: Record<string, string> };
  spec?: { containers?: { name?: string; image?: string }[] };
  status?: { phase?: string; containerStatuses?: { name?: string; state?: { terminated?: unknown } }[] };
}

/** Whether the Pod's runner has not been reported terminated yet (the stand-in has work to do). Pure. */
export function awaitsRunnerExit(pod: unknown): boolean {
  const p = pod as PodShape;
  if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') return false;
  return !(p.status?.containerStatuses ?? []).some((c) => c.name === RUNNER_CONTAINER && c.state?.terminated !== undefined);
}

/**
 * The status a kubelet would publish for this job Pod once its runner exited 0 with a Succeeded receipt, or a
 * reason why none can be built (the Pod lacks the m87 annotations). Pure; `now` is an ISO time (whole seconds).
 */
export function runnerExitStatus(pod: unknown, now: string): { status: Record<string, unknown> } | { error: string } {
  const p = pod as PodShape;
  const a = p.metadata?.annotations ?? {};
  const jobUID = a[ANNOTATIONS.jobUID];
  const deh = a[ANNOTATIONS.envelopeHash];
  const envelopeJson = a[ANNOTATIONS.envelope];
  if (jobUID === undefined || deh === undefined || envelopeJson === undefined) return { error: 'not a job Pod (no m87 annotations)' };
  let steps: { tool?: unknown }[];
  try {
    const envelope = JSON.parse(envelopeJson) as { steps?: unknown };
    if (!Array.isArray(envelope.steps)) return { error: 'envelope without steps' };
    steps = envelope.steps as { tool?: unknown }[];
  } catch {
    return { error: 'envelope annotation is not JSON' };
  }
  const outputs = declaredOutputs(jobPodView(pod as KubeObject), steps.length);
  if (outputs === undefined) return { error: "the step containers' Tool specs cannot be read" };
  const receipt: Receipt = {
    v: 1,
    status: 'Succeeded',
    reasonCode: '',
    jobUID,
    deh: { claimed: deh, recomputed: deh, verified: true },
    steps: steps.map((s) => ({ tool: String(s.tool), exitCode: 0, outputHash: sha256Hex('ok') })),
    usage: { steps: steps.length, toolCalls: steps.length, runtimeMs: 100, externalIO: 0 },
    artifacts: outputs.map((path) => ({ path, sha256: sha256Hex(path) })),
  };
  const image = p.spec?.containers?.find((c) => c.name === RUNNER_CONTAINER)?.image ?? '';
  return {
    status: {
      phase: 'Succeeded',
      containerStatuses: [
        {
          name: RUNNER_CONTAINER,
          image,
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: 'Completed', message: JSON.stringify(receipt), startedAt: now, finishedAt: now } },
        },
      ],
    },
  };
}

/** Publishes runner exits for the job Pods it is handed, `concurrency` PATCHes in flight at most. */
export class KubeletStandIn {
  readonly #kc: KubeConfig;
  readonly #concurrency: number;
  readonly #queue: KubeObject[] = [];
  readonly #seen = new Set<string>();
  #inFlight = 0;
  #published = 0;
  #failed = 0;
  #firstError: string | undefined;

  constructor(kc: KubeConfig, concurrency = 4) {
    this.#kc = kc;
    this.#concurrency = concurrency;
  }

  counts(): { published: number; failed: number; queued: number; firstError: string | undefined } {
    return { published: this.#published, failed: this.#failed, queued: this.#queue.length + this.#inFlight, firstError: this.#firstError };
  }

  /** A job Pod was seen (add or update): publish its runner's exit once. */
  onPod(pod: KubeObject): void {
    const uid = pod.metadata.uid;
    if (uid === undefined || this.#seen.has(uid) || pod.metadata.deletionTimestamp !== undefined || !awaitsRunnerExit(pod)) return;
    this.#seen.add(uid);
    this.#queue.push(pod);
    this.#pump();
  }

  /** Forgets a deleted Pod's UID (the set stays as large as the Pods that exist). */
  onPodDeleted(pod: KubeObject): void {
    if (pod.metadata.uid !== undefined) this.#seen.delete(pod.metadata.uid);
  }

  #pump(): void {
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0) {
      const pod = this.#queue.shift()!;
      this.#inFlight++;
      void this.#publish(pod).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #publish(pod: KubeObject): Promise<void> {
    const built = runnerExitStatus(pod, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
    if ('error' in built) {
      this.#fail(`${pod.metadata.name ?? '?'}: ${built.error}`);
      return;
    }
    const path = `/api/v1/namespaces/${pod.metadata.namespace ?? ''}/pods/${pod.metadata.name ?? ''}/status`;
    for (let attempt = 1; ; attempt++) {
      try {
        await kubeRequest(this.#kc, { method: 'PATCH', path, contentType: 'application/merge-patch+json', body: { metadata: { uid: pod.metadata.uid }, status: built.status } });
        this.#published++;
        return;
      } catch (err) {
        if (isNotFound(err)) return; // gone (its tree was deleted)
        if (attempt >= 5) {
          this.#fail(`${pod.metadata.name ?? '?'}: ${(err as Error).message}`);
          return;
        }
        await sleep(500 * attempt);
      }
    }
  }

  #fail(why: string): void {
    this.#failed++;
    this.#firstError ??= why;
  }
}
