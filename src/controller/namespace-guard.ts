// Job Pods run only where Pod Security "restricted" is enforced: the Pod we build complies anyway, but an
// enforcing namespace also rejects anything that would weaken it later (mutating webhooks, edits).
import type { KubeConfig } from '@kubernetes/client-node';
import { getObject } from '../runtime/kube-http.ts';
import { NAMESPACES } from './resources.ts';

export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
const TTL_MS = 30_000;

export class NamespaceGuard {
  readonly #kc: KubeConfig;
  readonly #cache = new Map<string, { ok: boolean; at: number }>();

  constructor(kc: KubeConfig) {
    this.#kc = kc;
  }

  /** undefined when Pods may run in the namespace, else why not. */
  async problem(namespace: string, signal?: AbortSignal): Promise<string | undefined> {
    const now = Date.now();
    let hit = this.#cache.get(namespace);
    if (hit === undefined || now - hit.at > TTL_MS) {
      const ns = await getObject(this.#kc, NAMESPACES, { name: namespace }, signal ? { signal } : {});
      hit = { ok: ns?.metadata.labels?.[ENFORCE_LABEL] === 'restricted', at: now };
      this.#cache.set(namespace, hit);
    }
    return hit.ok ? undefined : `Namespace ${namespace} does not enforce Pod Security "restricted" (label ${ENFORCE_LABEL}=restricted); no job Pod is started there.`;
  }
}
