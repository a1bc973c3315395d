// Installs the M87 CRDs (create, or replace what is there) and waits until the API server serves them.
// Used by the controller at start-up, the demo and the tests, so all of them run against the same schemas.
import type { KubeConfig } from '@kubernetes/client-node';
import { isConflict, isNotFound, kubeRequest } from '../../src/runtime/kube-http.ts';
import { generateCrds, type CustomResourceDefinition } from './generate.ts';

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const DEFAULT_TIMEOUT_MS = 60_000;
const POLL_MS = 100;
const CONFLICT_RETRIES = 5;

interface CrdCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface StoredCrd extends Omit<CustomResourceDefinition, 'metadata'> {
  metadata: CustomResourceDefinition['metadata'] & { resourceVersion?: string; managedFields?: unknown[] };
  status?: { conditions?: CrdCondition[]; acceptedNames?: { kind?: string; plural?: string } };
}

export interface InstallCrdsOptions {
  /** Which CRDs; default every M87 CRD, generated from the zod schemas (identical to crds/*.yaml). */
  crds?: readonly CustomResourceDefinition[];
  /** Budget for installing and waiting, default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class CrdInstallError extends Error {
  override name = 'CrdInstallError';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function getCrd(kc: KubeConfig, name: string, signal: AbortSignal): Promise<StoredCrd | undefined> {
  try {
    return await kubeRequest<StoredCrd>(kc, { method: 'GET', path: `${CRD_PATH}/${name}`, signal });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Create, or replace the stored spec (labels merged, the server's other metadata kept). */
async function createOrReplace(kc: KubeConfig, crd: CustomResourceDefinition, signal: AbortSignal): Promise<void> {
  const name = crd.metadata.name;
  for (let attempt = 0; ; attempt++) {
    const existing = await getCrd(kc, name, signal);
    try {
      if (existing === undefined) {
        await kubeRequest(kc, { method: 'POST', path: CRD_PATH, body: crd, signal });
      } else {
        // Keep the server's metadata (resourceVersion for optimistic locking, finalizers, annotations) except
        // managedFields, which a replace must not try to set.
        const { managedFields: _managedFields, ...kept } = existing.metadata;
        const body = { ...crd, metadata: { ...kept, labels: { ...existing.metadata.labels, ...crd.metadata.labels } } };
        await kubeRequest(kc, { method: 'PUT', path: `${CRD_PATH}/${name}`, body, signal });
      }
      return;
    } catch (err) {
      // 409: created by someone else since our GET (AlreadyExists) or changed since (Conflict); read again.
      if (isConflict(err) && attempt < CONFLICT_RETRIES) continue;
      throw err;
    }
  }
}

function condition(crd: StoredCrd, type: string): CrdCondition | undefined {
  return crd.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the CRD is Established with its names accepted; a rejected name fails at once. */
async function waitEstablished(kc: KubeConfig, crd: CustomResourceDefinition, signal: AbortSignal): Promise<void> {
  const name = crd.metadata.name;
  for (;;) {
    const stored = await getCrd(kc, name, signal);
    if (stored !== undefined) {
      const names = condition(stored, 'NamesAccepted');
      if (names?.status === 'False') {
        throw new CrdInstallError(`CRD ${name}: names not accepted (${names.reason ?? ''}: ${names.message ?? ''})`);
      }
      const nonStructural = condition(stored, 'NonStructuralSchema');
      if (nonStructural?.status === 'True') {
        throw new CrdInstallError(`CRD ${name}: schema is not structural (${nonStructural.message ?? ''})`);
      }
      if (names?.status === 'True' && condition(stored, 'Established')?.status === 'True') return;
    }
    await sleep(POLL_MS, signal);
  }
}

/**
 * Applies the CRDs (create-or-replace) and resolves once every one is Established. Throws CrdInstallError (or
 * the API server's error, which names the offending schema field) on failure or timeout.
 */
export async function installCrds(kc: KubeConfig, options: InstallCrdsOptions = {}): Promise<void> {
  const crds = options.crds ?? generateCrds();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    for (const crd of crds) await createOrReplace(kc, crd, signal);
    await Promise.all(crds.map((crd) => waitEstablished(kc, crd, signal)));
  } catch (err) {
    if (timeout.aborted && !(options.signal?.aborted ?? false)) {
      throw new CrdInstallError(
        `CRDs not established within ${timeoutMs} ms: ${crds.map((c) => c.metadata.name).join(', ')}`,
        { cause: err },
      );
    }
    throw err;
  }
}
