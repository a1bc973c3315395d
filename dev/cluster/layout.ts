// Where everything of one plane lives inside its state directory.
import { join } from 'node:path';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export interface PlaneLayout {
  readonly stateDir: string;
  readonly stateFile: string;
  readonly kubeconfig: string;
  readonly componentKubeconfig: (component: 'kube-controller-manager' | 'kube-scheduler') => string;
  readonly tokenFile: string;
  readonly pkiDir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly servingCert: string;
  readonly servingKey: string;
  /** The API server's client certificate towards kubelets. */
  readonly kubeletClientCert: string;
  readonly kubeletClientKey: string;
  readonly serviceAccountPublicKey: string;
  readonly serviceAccountPrivateKey: string;
  readonly etcdDataDir: string;
  readonly logDir: string;
  readonly logFile: (component: ComponentName) => string;
  /** kube-apiserver's audit policy and its JSON-lines audit log (tests read who was refused what). */
  readonly auditPolicy: string;
  readonly auditLog: string;
}

export function planeLayout(stateDir: string): PlaneLayout {
  const pkiDir = join(stateDir, 'pki');
  const logDir = join(stateDir, 'logs');
  return {
    stateDir,
    stateFile: join(stateDir, 'state.json'),
    kubeconfig: join(stateDir, 'kubeconfig'),
    componentKubeconfig: (component) => join(stateDir, `${component}.kubeconfig`),
    tokenFile: join(pkiDir, 'tokens.csv'),
    pkiDir,
    caCert: join(pkiDir, 'ca.crt'),
    caKey: join(pkiDir, 'ca.key'),
    servingCert: join(pkiDir, 'serving.crt'),
    servingKey: join(pkiDir, 'serving.key'),
    kubeletClientCert: join(pkiDir, 'apiserver-kubelet-client.crt'),
    kubeletClientKey: join(pkiDir, 'apiserver-kubelet-client.key'),
    serviceAccountPublicKey: join(pkiDir, 'sa.pub'),
    serviceAccountPrivateKey: join(pkiDir, 'sa.key'),
    etcdDataDir: join(stateDir, 'etcd'),
    logDir,
    logFile: (component) => join(logDir, `${component}.log`),
    auditPolicy: join(stateDir, 'audit-policy.yaml'),
    auditLog: join(logDir, 'audit.log'),
  };
}
