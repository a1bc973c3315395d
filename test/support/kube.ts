// Helpers for tests that talk to the real control plane started by cluster-global-setup.ts.
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, inject } from 'vitest';
import type { UserContext } from '../../dev/cluster/identities.ts';
import { planeLayout, type PlaneLayout } from '../../dev/cluster/layout.ts';
import { waitUntil } from '../../dev/cluster/probe.ts';
import type { ServiceAccountTokenOptions } from '../../dev/cluster/service-account.ts';
import { logTail } from '../../dev/cluster/supervisor.ts';
import { serviceAccountKubeConfig as requestServiceAccountKubeConfig } from '../../dev/cluster/service-account.ts';
import type { M87ClusterInfo } from './cluster-global-setup.ts';
import { TEST_RUN_LABEL } from './namespaces.ts';

export function clusterInfo(): M87ClusterInfo {
  const info = inject('m87Cluster');
  if (info === undefined) throw new Error('no m87Cluster provided: run this file in the integration or e2e project');
  return info;
}

/** The files of the test cluster's plane (the plane started by the run, or the `npm run cluster` plane). */
export function testPlaneLayout(): PlaneLayout {
  const info = clusterInfo();
  return planeLayout(info.stateDir ?? dirname(info.kubeconfigPath));
}

/** A KubeConfig for a static identity: admin (system:masters), alice, bob (m87:approvers), viewer. */
export function clusterKubeConfig(context: UserContext = 'admin'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(clusterInfo().kubeconfigPath);
  if (kc.getContextObject(context) === null) {
    throw new Error(`the test cluster's kubeconfig has no context ${JSON.stringify(context)}`);
  }
  kc.setCurrentContext(context);
  return kc;
}

/** A KubeConfig for ServiceAccount namespace/name (created if absent), token from the TokenRequest API. */
export function serviceAccountKubeConfig(namespace: string, name: string, options?: ServiceAccountTokenOptions): Promise<KubeConfig> {
  return requestServiceAccountKubeConfig(clusterKubeConfig('admin'), namespace, name, options);
}

export interface WaitForOptions {
  /** What is awaited, for the timeout message. */
  readonly what: string;
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Polls fn until it returns something other than undefined, null or false, and returns that. A throw
 * counts as "not yet"; the timeout error names `what` and the last result or error.
 */
export function waitFor<T>(fn: () => T | Promise<T>, options: WaitForOptions): Promise<Exclude<T, undefined | null | false>> {
  return waitUntil(
    async () => {
      const value = await fn();
      return value === undefined || value === null || value === false ? undefined : (value as Exclude<T, undefined | null | false>);
    },
    { what: options.what, timeoutMs: options.timeoutMs ?? 30_000, intervalMs: options.intervalMs ?? 100 },
  );
}

/**
 * Creates a fresh namespace `<prefix>-<random>` (ready for Pods: its default ServiceAccount exists) and
 * deletes it after the current file or describe block. Call it at the top level of a test file or in a
 * describe body (`const ns = await testNamespace('x')`), where afterAll may be registered.
 */
export async function testNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const core = clusterKubeConfig('admin').makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { [TEST_RUN_LABEL]: clusterInfo().runId } } } });
  afterAll(async () => {
    try {
      await core.deleteNamespace({ name });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    }
  });
  try {
    await waitFor(
      async () => {
        try {
          return await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
        } catch (error) {
          if (error instanceof ApiException && error.code === 404) return undefined;
          throw error;
        }
      },
      // Normally at once. After the API server was restarted several times in a row (the chaos tier's long
      // form), kube-controller-manager's reflectors back off before listing again (client-go: up to 30 s, with
      // jitter up to twice that), and its serviceaccounts controller sees the new namespace only then.
      { what: `the default ServiceAccount of namespace ${name}`, timeoutMs: 90_000 },
    );
  } catch (error) {
    // kube-controller-manager makes it: what it was doing is the diagnosis (on the local plane).
    const tail = logTail(testPlaneLayout().logFile('kube-controller-manager'), 40);
    throw new Error(`${(error as Error).message}${tail === '' ? '' : `\nkube-controller-manager log (last lines):\n${tail}`}`, { cause: error });
  }
  return name;
}

/** The HTTP status and the Kubernetes Status message of a failed API call (fails the test otherwise). */
export function apiError(error: unknown): { code: number; message: string; reason: string | undefined } {
  if (!(error instanceof ApiException)) throw error;
  const code = (error as ApiException<unknown>).code;
  const body: unknown = (error as ApiException<unknown>).body;
  let status: { message?: string; reason?: string } = {};
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body) as { message?: string; reason?: string };
    } catch {
      status = { message: body };
    }
  }
  return { code, message: status.message ?? '', reason: status.reason };
}

/** Awaits a call expected to fail and returns its status; throws when it succeeds. */
export async function expectApiError(call: Promise<unknown>): Promise<{ code: number; message: string; reason: string | undefined }> {
  try {
    await call;
  } catch (error) {
    return apiError(error);
  }
  throw new Error('expected the API call to fail, but it succeeded');
}
