import { loadConnection, M87Client, type Connection } from '../client/index.ts';

/** Standard kubectl-style connection flags, shared by every client subcommand. */
export const CONNECTION_FLAGS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
} as const;

/** kubectl's resolution order: --kubeconfig, then $KUBECONFIG, ~/.kube/config, in-cluster; namespace from the flag, then the context. */
export function connect(flags: { kubeconfig?: string; context?: string; namespace?: string }): Connection & { client: M87Client } {
  const conn = loadConnection(flags);
  return { ...conn, client: new M87Client(conn.kubeConfig) };
}
