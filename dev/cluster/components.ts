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

export interface ApiserverOptions {
  readonly secure: number;
  readonly etcdClient: number;
  /**
   * The host's address on the real node's pod network (its bridge). The API server still listens on
   * loopback only; the real node forwards this address's port to it (dev/cluster/real-node/firewall.ts),
   * and the `kubernetes` Service's endpoints point here so in-cluster clients can reach it.
   */
  readonly podNetworkAddress?: string;
  /**
   * Flags appended after the plane's own (a later flag wins): e.g. the soak bench's shorter
   * `--etcd-compaction-interval`, or `--profiling=true` for a CPU profile of the API server.
   */
  readonly extraFlags?: readonly string[];
}

export function apiserverArgs(layout: PlaneLayout, ports: ApiserverOptions): string[] {
  const podNetwork = ports.podNetworkAddress;
  return [
    `--etcd-servers=http://${LOOPBACK}:${ports.etcdClient}`,
    `--bind-address=${LOOPBACK}`,
    `--advertise-address=${podNetwork ?? LOOPBACK}`,
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
    // How the API server calls kubelets (logs, exec, port-forward): with its own client certificate; a real
    // kubelet authorizes it through the API server (webhook), see dev/cluster/real-node.
    `--kubelet-client-certificate=${layout.kubeletClientCert}`,
    `--kubelet-client-key=${layout.kubeletClientKey}`,
    // The node's address, never its name: a name would be looked up in the host's DNS.
    '--kubelet-preferred-address-types=InternalIP',
    // A real node's kubelet serves a certificate from the plane's CA (the process node serves nothing).
    ...(podNetwork !== undefined ? [`--kubelet-certificate-authority=${layout.caCert}`] : []),
    // Loopback cannot be a Service endpoint: without a pod network nothing needs the kubernetes Service's
    // endpoints; with one, they name the pod network's host address (the default lease reconciler).
    ...(podNetwork === undefined ? ['--endpoint-reconciler-type=none'] : []),
    '--profiling=false',
    // Who was refused what is read from the API server's own record (test/support/audit.ts), not from logs.
    `--audit-policy-file=${layout.auditPolicy}`,
    `--audit-log-path=${layout.auditLog}`,
    '--audit-log-format=json',
    '--audit-log-mode=batch',
    '--audit-log-batch-max-wait=1s',
    ...(ports.extraFlags ?? []),
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
    // Each controller acts as its own ServiceAccount in kube-system (e.g. the garbage collector as
    // system:serviceaccount:kube-system:generic-garbage-collector), as in kubeadm and most distributions:
    // the chart's admission policies name that identity as the one allowed to delete job NetworkPolicies.
    // That is ~40 ServiceAccounts and TokenRequests while the controllers start, serially: with the default
    // client rate limit (20 qps, burst 30) it added ~5 s to every plane start; a local plane can afford more.
    '--use-service-account-credentials=true',
    '--kube-api-qps=500',
    '--kube-api-burst=1000',
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
