// The host-global things a real node creates outside its state directory — iptables chains (kube-router's,
// the kubelet's canaries, the node's own API server forward), ipsets, the bridge, network namespaces, mounts,
// cgroups and the kubelet/CNI host paths — and their removal. A snapshot taken before the node starts says
// what existed already: teardown removes only what is new and matches the node's names, so firewall state
// of anything else on the machine is left alone.
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { attempt, run } from './host-exec.ts';
import { BRIDGE } from './network.ts';
import type { SystemTools } from './prerequisites.ts';

/** Chains the node's components create: kube-router's and the kubelet's (KUBE-*), the node's own (M87-*). */
const OUR_CHAIN = /^(KUBE-|M87-)/;
/** ipsets kube-router creates. */
const OUR_IPSET = /^(KUBE-|kube-router)/;
const NETNS_DIR = '/run/netns';
const CGROUP_ROOT = '/sys/fs/cgroup';
/**
 * Host paths the kubelet, libcni and containerd's shims (their sockets in /run/containerd/s) use whatever
 * their configured directories.
 */
export const HOST_PATHS = ['/var/lib/kubelet', '/var/lib/kubelet/device-plugins', '/var/log/containers', '/var/lib/cni', '/run/containerd', '/run/containerd/s'] as const;

export interface HostSnapshot {
  /** "<family>/<table>/<chain>" */
  readonly chains: readonly string[];
  readonly ipsets: readonly string[];
  readonly netns: readonly string[];
  /** Which of HOST_PATHS existed. */
  readonly hostPaths: Readonly<Record<string, boolean>>;
  /** kubepods cgroup directories that existed. */
  readonly cgroups: readonly string[];
  /** When the snapshot was taken (ms since the epoch): host-path entries younger than this are the node's. */
  readonly takenAt: number;
}

type Family = 'ipv4' | 'ipv6';

interface SavedTable {
  readonly table: string;
  readonly chains: string[];
  readonly rules: string[];
}

function parseSave(text: string): SavedTable[] {
  const tables: SavedTable[] = [];
  let current: SavedTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      current = { table: line.slice(1).trim(), chains: [], rules: [] };
      tables.push(current);
    } else if (current !== undefined && line.startsWith(':')) {
      current.chains.push(line.slice(1).split(' ')[0] ?? '');
    } else if (current !== undefined && line.startsWith('-A ')) {
      current.rules.push(line);
    }
  }
  return tables;
}

async function saved(tools: SystemTools, family: Family): Promise<SavedTable[]> {
  const { stdout } = await run(family === 'ipv4' ? tools.iptablesSave : tools.ip6tablesSave, []);
  return parseSave(stdout);
}

async function ipsets(tools: SystemTools): Promise<string[]> {
  const { stdout } = await run(tools.ipset, ['list', '-n']);
  return stdout.split('\n').filter((name) => name !== '');
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Every kubepods cgroup directory (one per v1 hierarchy, or the unified one). */
export function kubepodsCgroups(): string[] {
  const candidates = [join(CGROUP_ROOT, 'kubepods'), ...listDir(CGROUP_ROOT).map((entry) => join(CGROUP_ROOT, entry, 'kubepods'))];
  const seen = new Set<string>();
  return candidates.filter((dir) => {
    try {
      if (!statSync(dir).isDirectory()) return false;
      const real = realpathSync(dir);
      if (seen.has(real)) return false;
      seen.add(real);
      return true;
    } catch {
      return false;
    }
  });
}

export async function snapshotHost(tools: SystemTools): Promise<HostSnapshot> {
  const chains: string[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    for (const table of await saved(tools, family)) chains.push(...table.chains.map((chain) => `${family}/${table.table}/${chain}`));
  }
  return {
    chains,
    ipsets: await ipsets(tools),
    netns: listDir(NETNS_DIR),
    hostPaths: Object.fromEntries(HOST_PATHS.map((path) => [path, existsSync(path)])),
    cgroups: kubepodsCgroups(),
    takenAt: Date.now(),
  };
}

/** What of the node is left on the host compared with the snapshot (empty lists: nothing). */
export interface Leftovers {
  readonly chains: string[];
  readonly ipsets: string[];
  readonly netns: string[];
  readonly bridge: boolean;
  readonly cgroups: string[];
  readonly hostPaths: string[];
  readonly mounts: string[];
}

export async function leftovers(tools: SystemTools, snapshot: HostSnapshot, stateDir: string): Promise<Leftovers> {
  const before = new Set(snapshot.chains);
  const chains: string[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    for (const table of await saved(tools, family)) {
      chains.push(...table.chains.map((chain) => `${family}/${table.table}/${chain}`).filter((id) => !before.has(id) && OUR_CHAIN.test(id.split('/')[2] ?? '')));
    }
  }
  return {
    chains,
    ipsets: (await ipsets(tools)).filter((name) => !snapshot.ipsets.includes(name) && OUR_IPSET.test(name)),
    netns: newNetns(snapshot),
    bridge: existsSync(`/sys/class/net/${BRIDGE}`),
    cgroups: kubepodsCgroups().filter((dir) => !snapshot.cgroups.includes(dir)),
    hostPaths: HOST_PATHS.filter((path) => snapshot.hostPaths[path] !== true && existsSync(path)),
    mounts: mountsUnder(stateDir, snapshot),
  };
}

export function isClean(left: Leftovers): boolean {
  return Object.values(left).every((value) => (Array.isArray(value) ? value.length === 0 : value === false));
}

function newNetns(snapshot: HostSnapshot): string[] {
  return listDir(NETNS_DIR).filter((name) => name.startsWith('cni-') && !snapshot.netns.includes(name));
}

/** Decodes the octal escapes (\040 for a space) of a /proc/self/mountinfo path. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Mount points under stateDir and the node's new network namespaces, deepest first. */
export function mountsUnder(stateDir: string, snapshot?: HostSnapshot): string[] {
  const netns = new Set(snapshot === undefined ? [] : newNetns(snapshot).map((name) => join(NETNS_DIR, name)));
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((point) => point.startsWith(`${stateDir}/`) || netns.has(point));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Removes the node's iptables chains (and every rule jumping to them), in both address families. */
async function removeChains(tools: SystemTools, snapshot: HostSnapshot, problems: string[]): Promise<void> {
  const before = new Set(snapshot.chains);
  for (const family of ['ipv4', 'ipv6'] as const) {
    const script: string[] = [];
    for (const table of await saved(tools, family)) {
      const ours = new Set(table.chains.filter((chain) => OUR_CHAIN.test(chain) && !before.has(`${family}/${table.table}/${chain}`)));
      if (ours.size === 0) continue;
      const jumps = table.rules.filter((rule) => {
        const [, chain] = rule.split(' ');
        const target = /\s-[jg]\s+(\S+)/.exec(rule)?.[1];
        return !ours.has(chain ?? '') && target !== undefined && ours.has(target);
      });
      script.push(`*${table.table}`, ...jumps.map((rule) => `-D${rule.slice(2)}`), ...[...ours].map((chain) => `-F ${chain}`), ...[...ours].map((chain) => `-X ${chain}`), 'COMMIT');
    }
    if (script.length === 0) continue;
    const failed = await attempt(family === 'ipv4' ? tools.iptablesRestore : tools.ip6tablesRestore, ['--noflush'], { input: `${script.join('\n')}\n` });
    if (failed !== undefined) problems.push(`${family} chains: ${failed}`);
  }
}

/** Signals every process in the node's cgroups (containers and their sandboxes); returns their PIDs. */
export function killCgroupProcesses(snapshot: HostSnapshot): number[] {
  const pids = new Set<number>();
  const collect = (dir: string): void => {
    for (const entry of listDir(dir)) {
      const path = join(dir, entry);
      if (entry === 'cgroup.procs') {
        for (const line of readFileSync(path, 'utf8').split('\n')) if (/^\d+$/.test(line)) pids.add(Number(line));
      } else if (lstatSync(path).isDirectory()) {
        collect(path);
      }
    }
  };
  for (const dir of kubepodsCgroups().filter((d) => !snapshot.cgroups.includes(d))) collect(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return [...pids];
}

/** containerd's shims for this node: their command line names the node's containerd socket. */
export function shimProcesses(containerdSocket: string): number[] {
  const pids: number[] = [];
  for (const entry of listDir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!basename(readlinkSync(`/proc/${entry}/exe`)).startsWith('containerd-shim')) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(containerdSocket)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to inspect
    }
  }
  return pids;
}

function removeCgroupTree(dir: string, problems: string[]): void {
  for (const entry of listDir(dir)) {
    const path = join(dir, entry);
    try {
      if (lstatSync(path).isDirectory()) removeCgroupTree(path, problems);
    } catch {
      // gone meanwhile
    }
  }
  try {
    rmdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`cgroup ${dir}: ${(error as Error).message}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Removes what the node created on the host (its processes must already be stopped, or be about to be:
 * the cgroups' processes are killed here). Collects problems instead of stopping at the first; returns them.
 */
export async function cleanHost(tools: SystemTools, snapshot: HostSnapshot, stateDir: string): Promise<string[]> {
  const problems: string[] = [];
  // Containers first: a cgroup with processes cannot go, and a netns with processes stays alive.
  for (let round = 0; round < 50 && killCgroupProcesses(snapshot).length > 0; round++) await sleep(100);
  for (const point of mountsUnder(stateDir, snapshot)) {
    if ((await attempt(tools.umount, [point])) !== undefined) {
      const failed = await attempt(tools.umount, ['-l', point]);
      if (failed !== undefined) problems.push(`unmount ${point}: ${failed}`);
    }
  }
  for (const name of newNetns(snapshot)) rmSync(join(NETNS_DIR, name), { force: true });
  // Host ends of the Pods' veths go with their namespaces; anything still attached goes with the bridge.
  if (existsSync(`/sys/class/net/${BRIDGE}`)) {
    for (const port of listDir(`/sys/class/net/${BRIDGE}/brif`)) await attempt(tools.ip, ['link', 'del', port]);
    const failed = await attempt(tools.ip, ['link', 'del', BRIDGE]);
    if (failed !== undefined) problems.push(`bridge ${BRIDGE}: ${failed}`);
  }
  await removeChains(tools, snapshot, problems);
  for (const name of (await ipsets(tools).catch(() => [])).filter((n) => !snapshot.ipsets.includes(n) && OUR_IPSET.test(n))) {
    const failed = await attempt(tools.ipset, ['destroy', name]);
    if (failed !== undefined) problems.push(`ipset ${name}: ${failed}`);
  }
  for (const dir of kubepodsCgroups().filter((d) => !snapshot.cgroups.includes(d))) removeCgroupTree(dir, problems);
  cleanHostPaths(snapshot, stateDir);
  return problems;
}

function cleanHostPaths(snapshot: HostSnapshot, stateDir: string): void {
  const existed = (path: string): boolean => snapshot.hostPaths[path] === true;
  // /var/log/containers: the kubelet's symlinks into this node's pod logs.
  for (const entry of listDir('/var/log/containers')) {
    const path = join('/var/log/containers', entry);
    try {
      if (readlinkSync(path).startsWith(`${stateDir}/`)) rmSync(path, { force: true });
    } catch {
      // not a symlink
    }
  }
  // libcni's cache of this network's attachments (and of the loopback attachment of each sandbox).
  if (!existed('/var/lib/cni')) {
    rmSync('/var/lib/cni', { recursive: true, force: true });
  } else {
    for (const sub of ['results', 'cache/results']) {
      for (const entry of listDir(join('/var/lib/cni', sub))) {
        const path = join('/var/lib/cni', sub, entry);
        const ours = entry.startsWith('m87-real-node-') || (entry.startsWith('cni-loopback-') && bornAfter(path, snapshot.takenAt));
        if (ours) rmSync(path, { force: true });
      }
    }
  }
  for (const path of [...HOST_PATHS].reverse()) {
    if (existed(path) || !existsSync(path)) continue;
    // Created by the node: removed when only empty directories are left in it (never anyone else's files).
    if (onlyEmptyDirectories(path)) rmSync(path, { recursive: true, force: true });
  }
}

function bornAfter(path: string, time: number): boolean {
  try {
    return statSync(path).mtimeMs >= time;
  } catch {
    return false;
  }
}

function onlyEmptyDirectories(dir: string): boolean {
  for (const entry of listDir(dir)) {
    const path = join(dir, entry);
    try {
      const stat = lstatSync(path);
      if (stat.isSocket()) continue; // the kubelet's device-plugin socket, dead once it stopped
      if (!stat.isDirectory() || !onlyEmptyDirectories(path)) return false;
    } catch {
      // gone meanwhile
    }
  }
  return true;
}
