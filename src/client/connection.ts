// Where the credentials come from, as kubectl finds them: an explicit kubeconfig, $KUBECONFIG,
// ~/.kube/config, or — inside a Pod — the ServiceAccount token. Unlike client-node's loadFromDefault,
// finding nothing is an error rather than a silent fallback to http://localhost:8080 without credentials.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { M87ClientError } from './errors.ts';

const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ConnectionOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
}

export interface Connection {
  kubeConfig: KubeConfig;
  /** The namespace to use when none is given: the flag, the context's, the Pod's, else "default". */
  namespace: string;
  /** Where the credentials came from, for messages ("kubeconfig /path (context alice)", "in-cluster ServiceAccount"). */
  source: string;
}

function fromFiles(kc: KubeConfig, files: string[]): void {
  const [first, ...rest] = files;
  if (first === undefined) return;
  kc.loadFromFile(first);
  for (const file of rest) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    kc.mergeConfig(more);
  }
}

export function loadConnection(opts: ConnectionOptions = {}, env: NodeJS.ProcessEnv = process.env): Connection {
  const kc = new KubeConfig();
  let source: string;
  let podNamespace: string | undefined;
  try {
    const envFiles = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f !== '' && existsSync(f));
    const homeConfig = join(env.HOME ?? homedir(), '.kube', 'config');
    if (opts.kubeconfig !== undefined) {
      if (!existsSync(opts.kubeconfig)) throw new M87ClientError('NoCredentials', `kubeconfig ${opts.kubeconfig} does not exist`);
      kc.loadFromFile(opts.kubeconfig);
      source = `kubeconfig ${opts.kubeconfig}`;
    } else if (envFiles.length > 0) {
      fromFiles(kc, envFiles);
      source = `kubeconfig ${envFiles.join(delimiter)} ($KUBECONFIG)`;
    } else if (existsSync(homeConfig)) {
      kc.loadFromFile(homeConfig);
      source = `kubeconfig ${homeConfig}`;
    } else if (env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(join(IN_CLUSTER_DIR, 'token'))) {
      kc.loadFromCluster();
      source = 'in-cluster ServiceAccount token';
      podNamespace = readFileSync(join(IN_CLUSTER_DIR, 'namespace'), 'utf8').trim();
    } else {
      throw new M87ClientError(
        'NoCredentials',
        'no credentials: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a Pod with a ServiceAccount token',
      );
    }
  } catch (err) {
    if (err instanceof M87ClientError) throw err;
    throw new M87ClientError('NoCredentials', `cannot load the kubeconfig: ${(err as Error).message}`, { cause: err });
  }
  if (opts.context !== undefined) {
    if (kc.getContextObject(opts.context) === null) throw new M87ClientError('NoCredentials', `${source} has no context "${opts.context}"`);
    kc.setCurrentContext(opts.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  if (kc.getCurrentCluster() === null) {
    throw new M87ClientError('NoCredentials', `${source}: no current context with a cluster (set current-context or pass --context)`);
  }
  if (context !== null && kc.getCurrentContext() !== 'inClusterContext') source += ` (context ${context.name})`;
  return { kubeConfig: kc, namespace: opts.namespace ?? context?.namespace ?? podNamespace ?? 'default', source };
}
