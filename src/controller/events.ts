// Kubernetes Events (core/v1) for what users look for with `kubectl describe` / `kubectl get events`:
// decisions, approvals and job results. Events are best effort: they are sent in the background, a failure
// is logged and never fails a reconcile, and like client-go's spam filter they are rate limited (a token
// bucket): at hundreds of decisions per second the Decision objects are the record, and an Event per
// decision would cost as much apiserver capacity as the decision itself. Dropped events are counted.
import type { KubeClient } from '../runtime/kube-access.ts';
import type { Logger } from 'pino';
import { errorCode, kubeRequest } from '../runtime/kube-http.ts';
import { TokenBucket } from '../runtime/rate-limiter.ts';
import { resourcePath } from '../runtime/resource.ts';
import { formatTime } from '../runtime/status.ts';
import { isNamespaceTerminating } from './namespace-guard.ts';
import { EVENTS } from './resources.ts';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string | undefined;
}

export type EventType = 'Normal' | 'Warning';

const COMPONENT = 'm87-controller';

export class EventRecorder {
  readonly #kc: KubeClient;
  readonly #log: Logger;
  readonly #fence: () => void;
  readonly #instance: string;
  readonly #maxInFlight: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #bucket: TokenBucket;
  readonly #now: () => number;
  #dropped = 0;
  readonly #onDrop: (() => void) | undefined;

  constructor(opts: {
    kubeConfig: KubeClient;
    logger: Logger;
    fence: () => void;
    instance: string;
    /** The controller's clock (epoch ms), for the Event timestamps. */
    now: () => number;
    maxInFlight?: number;
    /** Sustained events per second; default 10. */
    ratePerSecond?: number;
    /** Burst; default 100. */
    burst?: number;
    onDrop?: () => void;
  }) {
    this.#kc = opts.kubeConfig;
    this.#log = opts.logger;
    this.#fence = opts.fence;
    this.#instance = opts.instance;
    this.#maxInFlight = opts.maxInFlight ?? 64;
    this.#bucket = new TokenBucket(opts.ratePerSecond ?? 10, opts.burst ?? 100);
    this.#now = opts.now;
    this.#onDrop = opts.onDrop;
  }

  get dropped(): number {
    return this.#dropped;
  }

  record(obj: InvolvedObject, type: EventType, reason: string, message: string): void {
    if (this.#inFlight.size >= this.#maxInFlight || !this.#bucket.tryTake()) {
      this.#dropped++;
      this.#onDrop?.();
      return;
    }
    try {
      this.#fence();
    } catch {
      return;
    }
    const now = new Date(this.#now());
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${obj.name.slice(0, 200)}.`, namespace: obj.namespace },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.namespace, name: obj.name, ...(obj.uid ? { uid: obj.uid } : {}) },
      type,
      reason,
      message: message.length > 1024 ? message.slice(0, 1023) + '…' : message,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.#instance.slice(0, 128),
      firstTimestamp: formatTime(now),
      lastTimestamp: formatTime(now),
      count: 1,
    };
    const p: Promise<void> = kubeRequest(this.#kc, { method: 'POST', path: resourcePath(EVENTS, { namespace: obj.namespace }), body, timeoutMs: 10_000 })
      .then(() => undefined)
      .catch((err: unknown) => {
        // The status code is enough, the response body is noise. A namespace being deleted refuses Events
        // (403 NamespaceTerminating): expected, not worth a warning; anything else is.
        const fields = { status: errorCode(err), reason, involved: `${obj.kind} ${obj.namespace}/${obj.name}` };
        if (isNamespaceTerminating(err)) this.#log.debug(fields, 'Namespace is being deleted; Event not recorded');
        else this.#log.warn(fields, 'Could not record Event');
      })
      .finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  /** Waits for events still being sent (on shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }
}
