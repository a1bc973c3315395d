// veth mode: the Pod's namespace gets a link to the host and the egress rules of the NetworkPolicies that
// select it, enforced with nftables inside that namespace. The only peer used is the host end of the Pod's
// own veth pair (an address this node created); servers bind to exactly that address.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { NETWORK_POLICIES } from '../../../dev/process-node/egress-policy.ts';
import { formatIPv4, parseCidr, parseIPv4 } from '../../../dev/process-node/pod-network.ts';
import { startProcessNode, type ProcessNode } from '../../../dev/process-node/process-node.ts';
import type { PodLike } from '../../../dev/process-node/pod-types.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { clusterInfo, clusterKubeConfig, testNamespace } from '../../support/kube.ts';
import { REPORT, createPod, testImageMap, testPod, waitForPhase } from './pod-factory.ts';

const POD_CIDR = '10.234.0.0/16';

function nftAvailable(): boolean {
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const hasNft = nftAvailable();
if (!hasNft) process.stderr.write('egress.test.ts: skipped, the nft tool is missing (apt-get install nftables)\n');

describe.skipIf(!hasNft)('process node, veth mode: NetworkPolicy egress', async () => {
  const kc = clusterKubeConfig('admin');
  const server = new URL(clusterInfo().server);
  const nodeName = `m87-pn-veth-${randomBytes(3).toString('hex')}`;
  const ns = await testNamespace('pn-egress');
  let node: ProcessNode;
  let stateDir: string;
  let exchange: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'm87-pn-veth-'));
    exchange = mkdtempSync(join(tmpdir(), 'm87-pn-exchange-'));
    chmodSync(exchange, 0o1777);
    node = await startProcessNode({
      kubeConfig: kc,
      nodeName,
      stateDir,
      imageMap: testImageMap,
      apiServer: { host: server.hostname, port: Number(server.port) },
      network: { mode: 'veth', podCidr: POD_CIDR },
      logger: pino({ level: 'warn' }),
      deleteNodeOnStop: true,
    });
  });

  afterAll(async () => {
    await node?.stop();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(exchange, { recursive: true, force: true });
  });

  /** Starts a Pod that waits for a go file, then probes the host end of its veth on two ports. */
  async function probe(name: string, labels: Record<string, string>, allowedPort: number): Promise<Record<string, string>> {
    const go = join(exchange, `go-${name}`);
    await createPod(
      kc,
      testPod({
        name,
        namespace: ns,
        nodeName,
        labels,
        env: [{ name: 'GO_FILE', value: go }],
        script: `${REPORT} const net = require('node:net'); const os = require('node:os');
          const ip = os.networkInterfaces().eth0.find((a) => a.family === 'IPv4').address;
          const gw = ip.split('.').map(Number).reduce((a, b) => a * 256 + b) - 1;
          const gateway = [gw >>> 24, (gw >>> 16) & 255, (gw >>> 8) & 255, gw & 255].join('.');
          const probe = (port) => new Promise((res) => { const s = net.connect({ host: gateway, port });
            s.setTimeout(1500, () => { s.destroy(); res('timeout'); });
            s.on('connect', () => { s.destroy(); res('connected'); }); s.on('error', (e) => res(e.code)); });
          const t = setInterval(async () => { if (!fs.existsSync(process.env.GO_FILE)) return; clearInterval(t);
            const [a, b] = fs.readFileSync(process.env.GO_FILE, 'utf8').split(' ').map(Number);
            report({ allowed: await probe(a), other: await probe(b) }); }, 20);`,
      }),
    );
    const running = await waitForPhase(kc, ns, name, ['Running']);
    const hostEnd = formatIPv4(parseIPv4(running.status!.podIP!) - 1);
    const pool = parseCidr(POD_CIDR);
    expect(parseIPv4(hostEnd) >>> (32 - pool.prefix)).toBe(pool.base >>> (32 - pool.prefix));
    const servers: Server[] = [];
    const listen = (port: number): Promise<number> =>
      new Promise((resolve) => {
        const s = createServer((socket) => socket.destroy());
        servers.push(s);
        s.listen(port, hostEnd, () => resolve((s.address() as { port: number }).port));
      });
    try {
      const other = await listen(0);
      await listen(allowedPort);
      writeFileSync(go, `${allowedPort} ${other}`);
      const done: PodLike = await waitForPhase(kc, ns, name, ['Succeeded', 'Failed']);
      expect(done.status?.phase).toBe('Succeeded');
      return JSON.parse(done.status?.containerStatuses?.[0]?.state.terminated?.message ?? '{}') as Record<string, string>;
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  }

  it('allows only what the selecting policy allows, and everything in the pool otherwise', async () => {
    const allowedPort = 20000 + Math.floor(Math.random() * 20000);
    // Only Pods labelled restricted=yes are selected: egress to TCP <allowedPort> inside the pool, nothing else.
    await kubeRequest(kc, {
      method: 'POST',
      path: resourcePath(NETWORK_POLICIES, { namespace: ns }),
      body: {
        metadata: { name: 'restricted' },
        spec: {
          podSelector: { matchLabels: { restricted: 'yes' } },
          policyTypes: ['Egress'],
          egress: [{ to: [{ ipBlock: { cidr: POD_CIDR } }], ports: [{ protocol: 'TCP', port: allowedPort }] }],
        },
      },
    });
    expect(await probe('selected', { restricted: 'yes' }, allowedPort)).toEqual({ allowed: 'connected', other: 'timeout' });
    expect(await probe('unselected', {}, allowedPort + 1)).toEqual({ allowed: 'connected', other: 'connected' });
  });
});
