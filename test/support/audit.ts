// The API server's own record of requests (the local plane runs kube-apiserver with a Metadata-level audit
// policy, dev/cluster/components.ts): who asked for what and what the answer was. Tests use it to prove an
// identity was never refused, instead of trusting what the client chose to log.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../src/runtime/kube-http.ts';
import { testPlaneLayout, waitFor } from './kube.ts';

export interface AuditEvent {
  readonly auditID: string;
  readonly verb: string;
  readonly requestURI: string;
  readonly user: { readonly username: string; readonly groups?: readonly string[] };
  readonly objectRef?: { readonly resource?: string; readonly namespace?: string; readonly name?: string; readonly apiGroup?: string };
  readonly responseStatus?: { readonly code?: number; readonly reason?: string; readonly message?: string };
  readonly stageTimestamp: string;
}

/** The audit log of the test cluster (the plane started by the run, or the `npm run cluster` plane). */
export function auditLogPath(): string {
  return testPlaneLayout().auditLog;
}

function readEvents(path: string): AuditEvent[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as AuditEvent);
}

/**
 * Every audit event recorded so far. The log is written in batches, so this first makes a marker request
 * and waits until the marker is in the log: everything the API server answered before it is then there too.
 */
export async function auditEvents(kc: KubeConfig): Promise<AuditEvent[]> {
  const path = auditLogPath();
  const marker = `m87-audit-marker-${randomBytes(6).toString('hex')}`;
  await kubeRequest(kc, { method: 'GET', path: `/api/v1/namespaces/${marker}` }).catch(() => undefined);
  return waitFor(
    () => {
      const events = readEvents(path);
      return events.some((e) => e.objectRef?.name === marker) ? events : undefined;
    },
    { timeoutMs: 15_000, what: `the audit marker ${marker} in ${path}` },
  );
}
