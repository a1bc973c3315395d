// The real node's configuration files: containerd's (its own root, state and socket under the node's state
// directory), the CNI bridge network, and the KubeletConfiguration. The settings that matter on this machine
// kind are commented where they are made.
import { stringify } from 'yaml';
import { BRIDGE, CNI_NETWORK, HOST_ADDRESS, KUBELET_PORT, POD_SUBNET } from './network.ts';
import type { NodeLayout } from './layout.ts';

const toml = (value: string): string => JSON.stringify(value); // a TOML basic string is a JSON string here

export function containerdConfig(layout: NodeLayout, options: { sandboxImage: string; cniBinDir: string }): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${toml(layout.containerdRoot)}
state = ${toml(layout.containerdState)}

[grpc]
  address = ${toml(layout.containerdSocket)}

[ttrpc]
  address = ${toml(`${layout.containerdSocket}.ttrpc`)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${toml(`${layout.containerdRoot}/opt`)}

[${cri}]
  # The sandbox image is built locally and imported, never pulled.
  sandbox_image = ${toml(options.sandboxImage)}
  # Not optional here: the VM withholds CAP_SYS_RESOURCE from every process, so runc cannot lower
  # oom_score_adj (the sandbox asks for -998) and every sandbox would fail without this.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = ${toml(layout.runcRoot)}

[${cri}.cni]
  bin_dir = ${toml(options.cniBinDir)}
  conf_dir = ${toml(layout.cniConfDir)}
  max_conf_num = 1
`;
}

/**
 * The bridge network. The node creates the bridge (with the host's address) itself: isGateway false, or the
 * bridge plugin would switch on net.ipv4.ip_forward for the whole host; ipMasq false (no NAT to the outside).
 * Pods get no default route, only the pod subnet and a route to the Service range via the host (for the
 * kubernetes Service, which the node DNATs to the API server; see firewall.ts).
 */
export function cniConfList(layout: NodeLayout, serviceClusterIpRange: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: false,
          isDefaultGateway: false,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: layout.cniIpamDir,
            ranges: [[{ subnet: POD_SUBNET, rangeStart: '10.239.0.10', rangeEnd: '10.239.0.250' }]],
            routes: [{ dst: serviceClusterIpRange, gw: HOST_ADDRESS }],
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

export function kubeletConfig(layout: NodeLayout, options: { healthzPort: number }): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // Serves on the pod network's host address: the kubelet refuses a loopback node IP, and the API server
    // reaches it there (logs, exec) with its client certificate.
    address: HOST_ADDRESS,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: options.healthzPort,
    tlsCertFile: layout.pem('kubelet-serving.crt'),
    tlsPrivateKeyFile: layout.pem('kubelet-serving.key'),
    // Callers are authenticated by client certificate or token review and authorized by the API server
    // (SubjectAccessReview): nobody anonymous.
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: layout.caCert } },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    cgroupDriver: 'cgroupfs',
    // cgroup v1 hosts: the file must say so, the flag's default does not win over it.
    failCgroupV1: false,
    cgroupsPerQOS: true,
    enforceNodeAllocatable: ['pods'],
    failSwapOn: false,
    // containerd 1.6 does not pin the sandbox image: image GC must never remove it (it cannot be pulled).
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    podLogsDir: layout.podLogsDir,
    // No cluster DNS: Pods get no resolv.conf from the host.
    resolvConf: '',
    serializeImagePulls: false,
    registerNode: true,
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '10s',
    shutdownGracePeriod: '0s',
    logging: { verbosity: 1 },
  });
}
