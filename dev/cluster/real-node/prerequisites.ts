// What the real node needs from the machine, checked before anything is created: root, overlayfs, the
// Debian packages (hack/node-packages.sh), the kubelet and kube-router and the node images
// (hack/cluster-binaries.sh). A missing piece is one line naming it and how to get it.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { MissingBinaryError, resolveBinary } from '../binaries.ts';
import { missingNodeImages, nodeImages, type NodeImage, type NodeImageName } from './images.ts';

export class RealNodeUnavailableError extends Error {
  constructor(reason: string) {
    super(`the real node cannot start here: ${reason}`);
    this.name = 'RealNodeUnavailableError';
  }
}

/** The host tools of the node's system packages (all that teardown needs). */
export interface SystemTools {
  readonly containerd: string;
  readonly ctr: string;
  readonly runc: string;
  readonly ip: string;
  readonly iptables: string;
  readonly iptablesSave: string;
  readonly iptablesRestore: string;
  readonly ip6tablesSave: string;
  readonly ip6tablesRestore: string;
  readonly ipset: string;
  readonly umount: string;
  readonly cniBinDir: string;
}

export interface NodeTools extends SystemTools {
  readonly kubelet: string;
  readonly kubeRouter: string;
  readonly images: Record<NodeImageName, NodeImage>;
}

const CNI_BIN_DIR = '/usr/lib/cni';
const CNI_PLUGINS = ['bridge', 'host-local', 'loopback'] as const;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const dirs = [...(env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter((d) => d !== '');
  return dirs.map((dir) => `${dir}/${name}`).find(executable);
}

function bridgeTrafficFiltered(): boolean {
  try {
    return readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** The system packages' tools, and what is missing of them ("<package> (no <file>)"). */
function findSystemTools(env: NodeJS.ProcessEnv): { tools: SystemTools; missing: string[] } {
  const packages = new Map<string, string>(); // package -> first missing file
  const tool = (name: string, pkg: string): string => {
    const found = onPath(name, env);
    if (found === undefined && !packages.has(pkg)) packages.set(pkg, name);
    return found ?? name;
  };
  const tools: SystemTools = {
    containerd: tool('containerd', 'containerd'),
    ctr: tool('ctr', 'containerd'),
    runc: tool('runc', 'runc'),
    ip: tool('ip', 'iproute2'),
    iptables: tool('iptables', 'iptables'),
    iptablesSave: tool('iptables-save', 'iptables'),
    iptablesRestore: tool('iptables-restore', 'iptables'),
    ip6tablesSave: tool('ip6tables-save', 'iptables'),
    ip6tablesRestore: tool('ip6tables-restore', 'iptables'),
    ipset: tool('ipset', 'ipset'),
    umount: tool('umount', 'mount'),
    cniBinDir: CNI_BIN_DIR,
  };
  for (const plugin of CNI_PLUGINS) {
    if (!existsSync(`${CNI_BIN_DIR}/${plugin}`) && !packages.has('containernetworking-plugins')) packages.set('containernetworking-plugins', `${CNI_BIN_DIR}/${plugin}`);
  }
  return { tools, missing: [...packages].map(([pkg, file]) => `${pkg} (no ${file})`) };
}

function missingPackagesProblem(missing: readonly string[]): string {
  return `missing system packages: ${missing.join(', ')} (install: bash hack/node-packages.sh, as root)`;
}

/** What tearing a node down needs: root and the system packages' tools. */
export function systemToolsForTeardown(env: NodeJS.ProcessEnv = process.env): SystemTools {
  if (process.getuid?.() !== 0) throw new RealNodeUnavailableError('it needs root (containerd, the kubelet, iptables and the bridge are host-level)');
  const { tools, missing } = findSystemTools(env);
  if (missing.length > 0) throw new RealNodeUnavailableError(missingPackagesProblem(missing));
  return tools;
}

/** The node's tools, or RealNodeUnavailableError naming everything that is missing and how to get it. */
export function checkRealNodePrerequisites(env: NodeJS.ProcessEnv = process.env): NodeTools {
  if (process.platform !== 'linux') throw new RealNodeUnavailableError(`it needs Linux (this is ${process.platform})`);
  if (process.getuid?.() !== 0) throw new RealNodeUnavailableError('it needs root (containerd, the kubelet, iptables and the bridge are host-level)');
  if (!/\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'))) {
    throw new RealNodeUnavailableError('the kernel has no overlay filesystem (containerd\'s overlayfs snapshotter needs it)');
  }
  const { tools, missing } = findSystemTools(env);
  const problems: string[] = [];
  if (missing.length > 0) problems.push(missingPackagesProblem(missing));
  // Pods on one bridge talk without routing: only br_netfilter shows that traffic to iptables, so without it
  // kube-router's NetworkPolicy would silently not apply between Pods. A host-wide setting: named, not changed.
  if (!bridgeTrafficFiltered()) {
    problems.push('bridged traffic bypasses iptables (NetworkPolicy between Pods would not hold): run `modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1`');
  }
  const built: Partial<Record<'kubelet' | 'kube-router', string>> = {};
  const missingBuilt: string[] = [];
  for (const name of ['kubelet', 'kube-router'] as const) {
    try {
      built[name] = resolveBinary(name, { env });
    } catch (error) {
      if (!(error instanceof MissingBinaryError)) throw error;
      missingBuilt.push(name);
    }
  }
  const images = nodeImages(env);
  missingBuilt.push(...missingNodeImages(images).map((image) => `the ${image.name} image (${image.archive})`));
  if (missingBuilt.length > 0) problems.push(`not built: ${missingBuilt.join(', ')} (build: npm run binaries)`);
  if (problems.length > 0) throw new RealNodeUnavailableError(problems.join('; '));
  return { ...tools, kubelet: built.kubelet ?? '', kubeRouter: built['kube-router'] ?? '', images };
}
