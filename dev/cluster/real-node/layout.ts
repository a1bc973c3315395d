// Where everything of the real node lives inside its state directory (separate from the plane's: the node's
// directory holds mounts, which must be undone before anything is deleted).
import { join } from 'node:path';

export const NODE_COMPONENTS = ['containerd', 'kubelet', 'kube-router'] as const;
export type NodeComponent = (typeof NODE_COMPONENTS)[number];

export interface NodeLayout {
  readonly stateDir: string;
  readonly stateFile: string;
  readonly logDir: string;
  readonly logFile: (component: NodeComponent) => string;
  readonly containerdConfig: string;
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly containerdSocket: string;
  readonly runcRoot: string;
  readonly cniConfDir: string;
  readonly cniIpamDir: string;
  readonly kubeletConfig: string;
  readonly kubeletKubeconfig: string;
  readonly kubeletRootDir: string;
  readonly podLogsDir: string;
  readonly kubeRouterKubeconfig: string;
  readonly pkiDir: string;
  readonly caCert: string;
  readonly pem: (name: string) => string;
}

export function nodeLayout(stateDir: string): NodeLayout {
  const logDir = join(stateDir, 'logs');
  const pkiDir = join(stateDir, 'pki');
  return {
    stateDir,
    stateFile: join(stateDir, 'real-node.json'),
    logDir,
    logFile: (component) => join(logDir, `${component}.log`),
    containerdConfig: join(stateDir, 'containerd.toml'),
    containerdRoot: join(stateDir, 'containerd', 'root'),
    containerdState: join(stateDir, 'containerd', 'state'),
    containerdSocket: join(stateDir, 'containerd', 'containerd.sock'),
    runcRoot: join(stateDir, 'runc'),
    cniConfDir: join(stateDir, 'cni', 'net.d'),
    cniIpamDir: join(stateDir, 'cni', 'ipam'),
    kubeletConfig: join(stateDir, 'kubelet-config.yaml'),
    kubeletKubeconfig: join(stateDir, 'kubelet.kubeconfig'),
    kubeletRootDir: join(stateDir, 'kubelet'),
    podLogsDir: join(stateDir, 'pod-logs'),
    kubeRouterKubeconfig: join(stateDir, 'kube-router.kubeconfig'),
    pkiDir,
    caCert: join(pkiDir, 'ca.crt'),
    pem: (name) => join(pkiDir, name),
  };
}
