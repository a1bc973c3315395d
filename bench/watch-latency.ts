// Observes one phase namespace through watches (the runtime's Informer: list, then watch with bookmarks
// and relist on 410) and timestamps, per Proposal, the first time its Decided condition is True and the
// first time a job Pod for it exists. Latency is measured from the loader's send time (annotation,
// sub-millisecond) and, as the issue words it, from metadata.creationTimestamp (whole seconds: the
// truncation adds 0–1 s, so that figure is reported but not held against the targets).
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { LABELS } from '../src/api/group.ts';
import { PODS, PROPOSALS } from '../src/controller/resources.ts';
import { Informer } from '../src/runtime/informer.ts';
import type { KubeObject } from '../src/runtime/resource.ts';
import { epochNow, isProposalKind, KIND_ANNOTATION, SENT_AT_ANNOTATION, type ProposalKind } from './mix.ts';

export interface ProposalTiming {
  name: string;
  kind: ProposalKind | undefined;
  /** Epoch ms the loader first sent it; NaN when the annotation is missing. */
  sentAt: number;
  /** metadata.creationTimestamp, epoch ms (whole seconds). */
  createdAt: number;
  decidedAt?: number;
  outcome?: string;
  podAt?: number;
}

export interface WatchCounts {
  seen: number;
  decided: number;
  /** Decided with outcome ALLOW (each should get a Pod). */
  allowed: number;
  pods: number;
}

interface Condition {
  type?: unknown;
  status?: unknown;
}

/** Whether the Proposal's status has Decided=True, and with which outcome. */
export function decidedOutcome(obj: KubeObject): { decided: boolean; outcome: string | undefined } {
  const status = obj.status as { outcome?: unknown; conditions?: unknown } | undefined;
  const conditions = Array.isArray(status?.conditions) ? (status.conditions as Condition[]) : [];
  const decided = conditions.some((c) => c.type === 'Decided' && c.status === 'True');
  return { decided, outcome: typeof status?.outcome === 'string' ? status.outcome : undefined };
}

/** The soak's taps on the watch streams (the phases use none). */
export interface WatchHooks {
  /** A proposal's first Decided=True (its timing complete up to the Pod). */
  onDecided?: (t: ProposalTiming & { decidedAt: number }) => void;
  /** A Proposal left the cluster (retention deleted its tree): its timing is forgotten (the soak's memory stays flat). */
  onProposalDeleted?: (name: string) => void;
  /** A job Pod was added or changed / deleted (the soak's kubelet stand-in). */
  onPod?: (pod: KubeObject) => void;
  onPodDeleted?: (pod: KubeObject) => void;
}

export class LatencyWatch {
  readonly #proposals: Informer<KubeObject>;
  readonly #podInformer: Informer<KubeObject> | undefined;
  readonly #timings = new Map<string, ProposalTiming>();
  /** Pods seen before their proposal (the watches are independent streams). */
  readonly #podFirst = new Map<string, number>();
  /** Proposals seen before reset(): their later events are not counted. */
  readonly #ignored = new Set<string>();
  #decided = 0;
  #allowed = 0;
  #pods = 0;
  readonly #hooks: WatchHooks;

  constructor(opts: { kubeConfig: KubeConfig; namespace: string; watchPods: boolean; hooks?: WatchHooks }) {
    const logger = pino({ level: 'warn' });
    this.#hooks = opts.hooks ?? {};
    this.#proposals = new Informer<KubeObject>({ kubeConfig: opts.kubeConfig, resource: PROPOSALS, namespace: opts.namespace, logger });
    this.#proposals.addHandlers({ onAdd: (o) => this.#onProposal(o), onUpdate: (_old, o) => this.#onProposal(o) });
    if (opts.hooks?.onProposalDeleted !== undefined) {
      const onDeleted = opts.hooks.onProposalDeleted;
      this.#proposals.addHandlers({
        onDelete: (o) => {
          const name = o.metadata.name;
          if (name === undefined) return;
          this.#timings.delete(name);
          onDeleted(name);
        },
      });
    }
    if (opts.watchPods) {
      this.#podInformer = new Informer<KubeObject>({
        kubeConfig: opts.kubeConfig,
        resource: PODS,
        namespace: opts.namespace,
        labelSelector: LABELS.proposal,
        logger,
      });
      this.#podInformer.addHandlers({ onAdd: (o) => this.#onPod(o), onUpdate: (_old, o) => this.#onPod(o) });
      const { onPod, onPodDeleted } = this.#hooks;
      if (onPod !== undefined) this.#podInformer.addHandlers({ onAdd: onPod, onUpdate: (_old, o) => onPod(o) });
      if (onPodDeleted !== undefined) this.#podInformer.addHandlers({ onDelete: onPodDeleted });
    }
  }

  async start(): Promise<void> {
    this.#proposals.start();
    this.#podInformer?.start();
    await this.#proposals.waitForSync({ timeoutMs: 60_000 });
    await this.#podInformer?.waitForSync({ timeoutMs: 60_000 });
  }

  async stop(): Promise<void> {
    await this.#proposals.stop();
    await this.#podInformer?.stop();
  }

  counts(): WatchCounts {
    return { seen: this.#timings.size, decided: this.#decided, allowed: this.#allowed, pods: this.#pods };
  }

  timings(): ProposalTiming[] {
    return [...this.#timings.values()];
  }

  /** Forgets everything observed so far (the warm-up) and ignores those proposals from now on. */
  reset(): void {
    for (const name of this.#timings.keys()) this.#ignored.add(name);
    for (const name of this.#podFirst.keys()) this.#ignored.add(name);
    this.#timings.clear();
    this.#podFirst.clear();
    this.#decided = 0;
    this.#allowed = 0;
    this.#pods = 0;
  }

  #onProposal(obj: KubeObject): void {
    const at = epochNow();
    const name = obj.metadata.name;
    if (name === undefined || this.#ignored.has(name)) return;
    let t = this.#timings.get(name);
    if (t === undefined) {
      const annotations = obj.metadata.annotations ?? {};
      const kind = annotations[KIND_ANNOTATION];
      t = {
        name,
        kind: isProposalKind(kind) ? kind : undefined,
        sentAt: Number(annotations[SENT_AT_ANNOTATION] ?? NaN),
        createdAt: Date.parse(obj.metadata.creationTimestamp ?? ''),
      };
      this.#timings.set(name, t);
      const podAt = this.#podFirst.get(name);
      if (podAt !== undefined) {
        t.podAt = podAt;
        this.#podFirst.delete(name);
      }
    }
    if (t.decidedAt !== undefined) return;
    const { decided, outcome } = decidedOutcome(obj);
    if (!decided) return;
    t.decidedAt = at;
    if (outcome !== undefined) t.outcome = outcome;
    this.#decided++;
    if (outcome === 'ALLOW') this.#allowed++;
    this.#hooks.onDecided?.(t as ProposalTiming & { decidedAt: number });
  }

  #onPod(obj: KubeObject): void {
    const at = epochNow();
    const proposal = obj.metadata.labels?.[LABELS.proposal];
    if (proposal === undefined || this.#ignored.has(proposal)) return;
    const t = this.#timings.get(proposal);
    if (t !== undefined) {
      if (t.podAt !== undefined) return;
      t.podAt = at;
    } else {
      if (this.#podFirst.has(proposal)) return;
      this.#podFirst.set(proposal, at);
    }
    this.#pods++;
  }
}
