// Writing kubeconfig files for the local plane: one cluster entry, one user per identity (a token, or a client
// certificate and key given as files, e.g. the real node's kubelet).
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export type KubeconfigUser =
  | { readonly context: string; readonly token: string }
  | { readonly context: string; readonly clientCertificate: string; readonly clientKey: string };

export interface KubeconfigSpec {
  readonly clusterName: string;
  readonly server: string;
  readonly caPem: string;
  readonly users: readonly KubeconfigUser[];
  readonly currentContext: string;
}

export function renderKubeconfig(spec: KubeconfigSpec): string {
  if (!spec.users.some((user) => user.context === spec.currentContext)) {
    throw new Error(`kubeconfig: currentContext ${JSON.stringify(spec.currentContext)} has no user entry`);
  }
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: spec.clusterName,
        cluster: { server: spec.server, 'certificate-authority-data': Buffer.from(spec.caPem).toString('base64') },
      },
    ],
    users: spec.users.map((user) => ({
      name: user.context,
      user: 'token' in user ? { token: user.token } : { 'client-certificate': user.clientCertificate, 'client-key': user.clientKey },
    })),
    contexts: spec.users.map((user) => ({ name: user.context, context: { cluster: spec.clusterName, user: user.context } })),
    'current-context': spec.currentContext,
    preferences: {},
  });
}

export function writeKubeconfig(path: string, spec: KubeconfigSpec): void {
  writeFileSync(path, renderKubeconfig(spec), { mode: 0o600 });
}
