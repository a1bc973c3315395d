// The real node's settings that must not drift (docs/dev/real-node.md): without restrict_oom_score_adj every
// sandbox fails on this machine kind; isGateway/ipMasq would switch on host-wide forwarding and NAT; an
// anonymous or AlwaysAllow kubelet would serve anybody.
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { cniConfList, containerdConfig, kubeletConfig } from '../../../dev/cluster/real-node/configs.ts';
import { nodeLayout } from '../../../dev/cluster/real-node/layout.ts';

const layout = nodeLayout('/tmp/m87-real-node-test');

describe('real node configuration', () => {
  it('containerd: restrict_oom_score_adj, cgroupfs, overlayfs, the local sandbox image, everything under the state dir', () => {
    const toml = containerdConfig(layout, { sandboxImage: 'localhost/m87/pause:abc', cniBinDir: '/usr/lib/cni' });
    for (const line of [
      'restrict_oom_score_adj = true',
      'SystemdCgroup = false',
      'snapshotter = "overlayfs"',
      'sandbox_image = "localhost/m87/pause:abc"',
      'bin_dir = "/usr/lib/cni"',
      `address = "${layout.containerdSocket}"`,
      `root = "${layout.containerdRoot}"`,
      `state = "${layout.containerdState}"`,
    ]) {
      expect(toml).toContain(line);
    }
  });

  it('CNI: the node\'s own bridge without gateway or masquerading (no host-wide forwarding), Services routed via the host', () => {
    const conf = JSON.parse(cniConfList(layout, '10.0.0.0/24')) as { plugins: Record<string, unknown>[] };
    expect(conf.plugins).toHaveLength(1);
    expect(conf.plugins[0]).toMatchObject({
      type: 'bridge',
      bridge: 'm87br0',
      isGateway: false,
      isDefaultGateway: false,
      ipMasq: false,
      ipam: { type: 'host-local', dataDir: layout.cniIpamDir, routes: [{ dst: '10.0.0.0/24', gw: '10.239.0.1' }] },
    });
  });

  it('kubelet: no anonymous access, webhook authorization, no read-only port, cgroup v1 allowed, image GC never removes the sandbox image', () => {
    const config = parse(kubeletConfig(layout, { healthzPort: 12345 })) as Record<string, unknown>;
    expect(config).toMatchObject({
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: layout.caCert } },
      authorization: { mode: 'Webhook' },
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      imageGCHighThresholdPercent: 100,
      containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    });
  });
});
