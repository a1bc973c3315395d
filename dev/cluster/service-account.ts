// Credentials for a ServiceAccount, obtained the way a real cluster issues them (TokenRequest API), so code
// under test authenticates as agents do in production. Shared by the launcher and the test helpers.
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

export interface ServiceAccountTokenOptions {
  /** Token audiences; default: the API server's own audience. */
  readonly audiences?: readonly string[];
  /** Token lifetime; the API server enforces a minimum of 600 s. Default 3600 s. */
  readonly expirationSeconds?: number;
}

export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

async function ensureServiceAccount(core: CoreV1Api, namespace: string, name: string): Promise<void> {
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } });
  } catch (error) {
    if (error instanceof ApiException && error.code === 409) return; // already there
    if (error instanceof ApiException && error.code === 404) {
      throw new Error(`serviceAccountKubeConfig: namespace ${JSON.stringify(namespace)} does not exist`, { cause: error });
    }
    throw error;
  }
}

/**
 * A KubeConfig authenticating as ServiceAccount namespace/name, creating the ServiceAccount when absent.
 * admin must be allowed to create ServiceAccounts and serviceaccounts/token in that namespace.
 */
export async function serviceAccountKubeConfig(
  admin: KubeConfig,
  namespace: string,
  name: string,
  options: ServiceAccountTokenOptions = {},
): Promise<KubeConfig> {
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error('serviceAccountKubeConfig: the admin KubeConfig has no current cluster');
  const core = admin.makeApiClient(CoreV1Api);
  await ensureServiceAccount(core, namespace, name);
  const response = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences: options.audiences !== undefined ? [...options.audiences] : [],
        expirationSeconds: options.expirationSeconds ?? 3600,
      },
    },
  });
  const token = response.status?.token;
  if (token === undefined || token === '') {
    throw new Error(`serviceAccountKubeConfig: TokenRequest for ${namespace}/${name} returned no status.token`);
  }
  const user = serviceAccountUsername(namespace, name);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster }],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: cluster.name, user, namespace }],
    currentContext: user,
  });
  return kc;
}
