// Job Pods run only where Pod Security "restricted" is enforced: the Pod we build complies anyway, but an
// enforcing namespace also rejects anything that would weaken it later (mutating webhooks, edits).
import type { KubeClient } from '../runtime/kube-access.ts';
import { errorCode, getObject } from '../runtime/kube-http.ts';
import { NAMESPACES } from './resources.ts';

const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
const TTL_MS = 30_000;

export class NamespaceGuard {
  readonly #kc: KubeClient;
  readonly #now: () => number;
  readonly #cache = new Map<string, { ok: boolean; at: number }>();

  /** `now` is the controller's clock (epoch ms). */
  constructor(kc: KubeClient, now: () => number) {
    this.#kc = kc;
    this.#now = now;
  }

  /** undefined when Pods may run in the namespace, else why not. */
  async problem(namespace: string, signal?: AbortSignal): Promise<string | undefined> {
    const now = this.#now();
    let hit = this.#cache.get(namespace);
    if (hit === undefined || now - hit.at > TTL_MS) {
      const ns = await getObject(this.#kc, NAMESPACES, { name: namespace }, signal ? { signal } : {});
      hit = { ok: ns?.metadata.labels?.[ENFORCE_LABEL] === 'restricted', at: now };
      this.#cache.set(namespace, hit);
    }
    return hit.ok ? undefined : `Namespace ${namespace} does not enforce Pod Security "restricted" (label ${ENFORCE_LABEL}=restricted); no job Pod is started there.`;
  }
}

/** A write refused because the namespace is being deleted: its objects are going away, nothing to retry. */
export function isNamespaceTerminating(err: unknown): boolean {
  if (errorCode(err) !== 403) return false;
  const causes = (err as { body?: { details?: { causes?: { reason?: string }[] } } }).body?.details?.causes ?? [];
  return causes.some((c) => c.reason === 'NamespaceTerminating');
}
