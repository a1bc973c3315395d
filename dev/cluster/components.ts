// How each control-plane component is invoked. Everything listens on 127.0.0.1 only.
import type { PlaneLayout } from './layout.ts';
import { LOOPBACK } from './ports.ts';

export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';

export interface EtcdPorts {
  readonly client: number;
  readonly peer: number;
}

export function etcdArgs(layout: PlaneLayout, ports: EtcdPorts): string[] {
  const client = `http://${LOOPBACK}:${ports.client}`;
  const peer = `http://${LOOPBACK}:${ports.peer}`;
  return [
    '--name=m87',
    `--data-dir=${layout.etcdDataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=m87=${peer}`,
    '--initial-cluster-state=new',
    '--unsafe-no-fsync', // throwaway data: durability is not worth the latency
    '--log-level=warn',
  ];
}

export const ADMISSION_PLUGINS = [
  'NamespaceLifecycle',
  'LimitRanger',
  'ServiceAccount',
  'NodeRestriction',
  'PodSecurity',
  'Priority',
  'DefaultTolerationSeconds',
  'TaintNodesByCondition',
  'ResourceQuota',
  'MutatingAdmissionWebhook',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionWebhook',
] as const;

export function apiserverArgs(layout: PlaneLayout, ports: { readonly secure: number; readonly etcdClient: number }): string[] {
  return [
    `--etcd-servers=http://${LOOPBACK}:${ports.etcdClient}`,
    `--bind-address=${LOOPBACK}`,
    `--advertise-address=${LOOPBACK}`,
    `--secure-port=${ports.secure}`,
    `--tls-cert-file=${layout.servingCert}`,
    `--tls-private-key-file=${layout.servingKey}`,
    `--client-ca-file=${layout.caCert}`,
    `--token-auth-file=${layout.tokenFile}`,
    '--authorization-mode=Node,RBAC',
    `--enable-admission-plugins=${ADMISSION_PLUGINS.join(',')}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    `--service-account-issuer=https://${LOOPBACK}:${ports.secure}`,
    `--service-account-key-file=${layout.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${layout.serviceAccountPrivateKey}`,
    '--allow-privileged=true',
    // Loopback cannot be a Service endpoint; nothing in the plane needs the kubernetes Service's endpoints.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
    // Who was refused what is read from the API server's own record (test/support/audit.ts), not from logs.
    `--audit-policy-file=${layout.auditPolicy}`,
    `--audit-log-path=${layout.auditLog}`,
    '--audit-log-format=json',
    '--audit-log-mode=batch',
    '--audit-log-batch-max-wait=1s',
  ];
}

/**
 * Metadata (who, what, verb, response code) for every resource request, once per request (at
 * ResponseComplete, or Panic); health probes and discovery of the version are left out.
 */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: None
    nonResourceURLs: ['/healthz*', '/readyz*', '/livez*', '/version', '/metrics']
  - level: Metadata
`;

function secureServingArgs(layout: PlaneLayout, port: number): string[] {
  return [
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${port}`,
    `--tls-cert-file=${layout.servingCert}`,
    `--tls-private-key-file=${layout.servingKey}`,
  ];
}

export function controllerManagerArgs(layout: PlaneLayout, ports: { readonly secure: number }): string[] {
  return [
    `--kubeconfig=${layout.componentKubeconfig('kube-controller-manager')}`,
    ...secureServingArgs(layout, ports.secure),
    '--leader-elect=false',
    '--controllers=*',
    // All controllers share the manager's identity (system:masters, see identities.ts). Per-controller
    // ServiceAccount credentials cost ~5 s of start time (one TokenRequest round per controller, serially)
    // and change nothing the project tests: those test the m87 controller's own RBAC, not kube's.
    '--use-service-account-credentials=false',
    `--service-account-private-key-file=${layout.serviceAccountPrivateKey}`,
    `--root-ca-file=${layout.caCert}`,
    `--cluster-signing-cert-file=${layout.caCert}`,
    `--cluster-signing-key-file=${layout.caKey}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--profiling=false',
  ];
}

export function schedulerArgs(layout: PlaneLayout, ports: { readonly secure: number }): string[] {
  return [
    `--kubeconfig=${layout.componentKubeconfig('kube-scheduler')}`,
    ...secureServingArgs(layout, ports.secure),
    '--leader-elect=false',
    '--profiling=false',
  ];
}
