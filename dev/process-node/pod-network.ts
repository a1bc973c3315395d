// One network namespace per Pod, so the process cannot reach the host's loopback services (the API server
// included). Mode 'isolated' (default): only `lo`, carrying the Pod IP; nothing leaves the namespace, which
// is stricter than any NetworkPolicy. Mode 'veth': a veth pair to the host and the egress rules of the
// NetworkPolicies selecting the Pod, enforced with nftables inside the Pod's namespace (see egress-policy.ts).
// Pod addresses come from a private pool: slot n owns the /30 at pool + 4n (host side +1, Pod +2).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { hostCommand } from './host-exec.ts';

export const DEFAULT_POD_CIDR = '10.233.0.0/16';
const NETNS_DIR = '/run/netns';

export interface Cidr {
  readonly base: number;
  readonly prefix: number;
}

export function parseIPv4(ip: string, field = 'address'): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new Error(`${field}: ${JSON.stringify(ip)} is not an IPv4 address`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string, field = 'cidr'): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new Error(`${field}: ${JSON.stringify(cidr)} is not an IPv4 CIDR`);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new Error(`${field}: prefix /${prefix} is out of range`);
  const size = 2 ** (32 - prefix);
  const base = parseIPv4(m[1]!, field);
  if (base % size !== 0) throw new Error(`${field}: ${cidr} has host bits set`);
  return { base, prefix };
}

export interface PodSlot {
  readonly slot: number;
  readonly hostIP: string;
  readonly podIP: string;
  readonly prefix: 30;
}

export function slotAddresses(pool: Cidr, slot: number): PodSlot {
  const slots = 2 ** (32 - pool.prefix) / 4;
  if (!Number.isInteger(slot) || slot < 1 || slot >= slots) throw new Error(`pod network slot ${slot} is outside the pool (1..${slots - 1})`);
  const net = pool.base + slot * 4;
  return { slot, hostIP: formatIPv4(net + 1), podIP: formatIPv4(net + 2), prefix: 30 };
}

export type NetworkMode = 'isolated' | 'veth';

export interface PodNetworkOptions {
  /** Default 'isolated'. */
  readonly mode?: NetworkMode;
  /** Private pool for Pod addresses (an IPv4 CIDR of /24 or larger). Default 10.233.0.0/16. */
  readonly podCidr?: string;
}

export interface PodSandbox {
  readonly name: string;
  readonly path: string;
  readonly podIP: string;
  readonly hostIP: string | undefined;
  readonly hostInterface: string | undefined;
  readonly slot: number;
}

/** Names the namespaces of one process node, so two nodes on one host never touch each other's. */
export function netnsPrefix(nodeName: string): string {
  return `m87-${createHash('sha256').update(nodeName).digest('hex').slice(0, 8)}-`;
}

export class PodNetworks {
  readonly mode: NetworkMode;
  readonly pool: Cidr;
  readonly #prefix: string;
  readonly #used = new Set<number>();
  #next = 1;

  constructor(nodeName: string, options: PodNetworkOptions = {}) {
    this.mode = options.mode ?? 'isolated';
    this.pool = parseCidr(options.podCidr ?? DEFAULT_POD_CIDR, 'network.podCidr');
    if (this.pool.prefix > 24) throw new Error('network.podCidr: the pool must be /24 or larger');
    this.#prefix = netnsPrefix(nodeName);
  }

  netnsName(podUid: string): string {
    return `${this.#prefix}${podUid}`;
  }

  #takeSlot(): number {
    const slots = 2 ** (32 - this.pool.prefix) / 4;
    for (let i = 0; i < slots; i++) {
      const slot = ((this.#next - 1 + i) % (slots - 1)) + 1;
      if (!this.#used.has(slot)) {
        this.#used.add(slot);
        this.#next = slot + 1;
        return slot;
      }
    }
    throw new Error(`network.podCidr: no free address in the pool (${this.#used.size} in use)`);
  }

  /** Creates the Pod's namespace (lo up, Pod IP) and, in veth mode, its link to the host. */
  async create(podUid: string): Promise<PodSandbox> {
    const name = this.netnsName(podUid);
    if (existsSync(`${NETNS_DIR}/${name}`)) await this.destroy(name);
    await hostCommand('ip', ['netns', 'add', name]);
    try {
      for (let attempt = 0; ; attempt++) {
        const addr = slotAddresses(this.pool, this.#takeSlot());
        if (this.mode === 'isolated') {
          await hostCommand('ip', ['-n', name, '-batch', '-'], `link set lo up\naddr add ${addr.podIP}/32 dev lo\n`);
          return { name, path: `${NETNS_DIR}/${name}`, podIP: addr.podIP, hostIP: undefined, hostInterface: undefined, slot: addr.slot };
        }
        // The host-side name is unique per slot on this host: creating it is the cross-node allocation lock.
        const hostIf = `m87v${addr.slot.toString(16)}`;
        try {
          await hostCommand('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
        } catch (err) {
          this.#used.delete(addr.slot);
          if (attempt < 64 && String(err).includes('exists')) continue;
          throw err;
        }
        await hostCommand('ip', ['-batch', '-'], `addr add ${addr.hostIP}/${addr.prefix} dev ${hostIf}\nlink set ${hostIf} up\n`);
        await hostCommand(
          'ip',
          ['-n', name, '-batch', '-'],
          `link set lo up\naddr add ${addr.podIP}/${addr.prefix} dev eth0\nlink set eth0 up\nroute add default via ${addr.hostIP} dev eth0\n`,
        );
        return { name, path: `${NETNS_DIR}/${name}`, podIP: addr.podIP, hostIP: addr.hostIP, hostInterface: hostIf, slot: addr.slot };
      }
    } catch (err) {
      await this.destroy(name).catch(() => undefined);
      throw err;
    }
  }

  /** Kills every process still in the namespace, then deletes it (and its veth pair with it). */
  async destroy(name: string, slot?: number): Promise<void> {
    if (!existsSync(`${NETNS_DIR}/${name}`)) {
      if (slot !== undefined) this.#used.delete(slot);
      return;
    }
    killNamespaceProcesses(`${NETNS_DIR}/${name}`, 'SIGKILL');
    await hostCommand('ip', ['netns', 'del', name]).catch(() => undefined);
    if (slot !== undefined) this.#used.delete(slot);
  }

  /** Namespaces a previous run of this node left behind (it died without cleaning up). */
  leftovers(): string[] {
    if (!existsSync(NETNS_DIR)) return [];
    return readdirSync(NETNS_DIR).filter((n) => n.startsWith(this.#prefix));
  }
}

function netnsId(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Signals every process whose network namespace is `netnsPath`: the container's process tree cannot leave it
 * (no CAP_SYS_ADMIN), so this reaches children that started their own process group or session too.
 */
export function killNamespaceProcesses(netnsPath: string, signal: NodeJS.Signals): number[] {
  let target: string;
  try {
    // /run/netns/<name> is a bind mount of the nsfs inode; /proc/<pid>/ns/net links read "net:[inode]".
    const { ino } = statSync(netnsPath);
    target = `net:[${ino}]`;
  } catch {
    return [];
  }
  const killed: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (netnsId(`/proc/${entry}/ns/net`) !== target) continue;
    try {
      process.kill(pid, signal);
      killed.push(pid);
    } catch {
      // already gone
    }
  }
  return killed;
}
