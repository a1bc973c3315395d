import { KubeConfig } from '@kubernetes/client-node';

/** Standard kubectl-style connection flags, shared by every client subcommand. */
export const CONNECTION_FLAGS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
} as const;

export interface Connection {
  kubeConfig: KubeConfig;
  namespace: string;
}

/** kubectl's resolution order: --kubeconfig, then $KUBECONFIG/~/.kube/config; namespace from the flag, then the context. */
export function connect(flags: { kubeconfig?: string; context?: string; namespace?: string }): Connection {
  const kc = new KubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault();
  if (flags.context) kc.setCurrentContext(flags.context);
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return { kubeConfig: kc, namespace: flags.namespace ?? ctx?.namespace ?? 'default' };
}
