// npm run cluster -- up|down|status|env — one long-lived local control plane per checkout, shared by
// interactive work and by test runs (M87_KUBECONFIG=<kubeconfig> makes the test tiers reuse it).
// Results go to stdout, progress (with timings) to stderr, so `eval "$(npm run -s cluster -- env)"` works.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT, readVersions } from './binaries.ts';
import type { ComponentName } from './layout.ts';
import { COMPONENTS, planeLayout } from './layout.ts';
import { attachControlPlane, startControlPlane } from './plane.ts';
import { httpGet } from './probe.ts';
import type { PlaneState } from './state.ts';
import { destroyPlane, ownerAlive, readState } from './state.ts';
import { isAlive } from './supervisor.ts';
import { HOST_ADDRESS } from './real-node/network.ts';
import { RealNodeUnavailableError, checkRealNodePrerequisites } from './real-node/prerequisites.ts';
import { attachRealNode, destroyRealNode, lockedRealNode, realNodeRunning, startRealNode } from './real-node/real-node.ts';

export type NodeKind = 'process' | 'real';

/** The real node's state directory beside the plane's (never inside it: it holds mounts). */
export function cliNodeStateDir(stateDir: string): string {
  return `${stateDir}-node`;
}

const USAGE = `usage: npm run cluster -- <command>
  up [--node real]  start the local control plane (detached) unless it is already running; prints the kubeconfig.
                    --node real: also a real node (containerd, kubelet, kube-router; root, one per machine);
                    where it cannot start, says why in one line and starts the plane alone (process node)
  down              stop the real node (removing what it created on the host), then the plane; delete their state
  status            running or stopped, with ports and versions (exit code 0 when running and ready, 1 otherwise)
  env               print the export line for its kubeconfig`;

export function cliStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_RUNTIME_DIR !== undefined && env.XDG_RUNTIME_DIR !== '' ? env.XDG_RUNTIME_DIR : '/tmp';
  const hash = createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 8);
  return join(base, `m87-cluster-${hash}`);
}

const started = performance.now();
const progress = (line: string): void => {
  process.stderr.write(`m87 cluster [${((performance.now() - started) / 1000).toFixed(1)} s] ${line}\n`);
};
const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function exportLine(kubeconfig: string): string {
  return `export KUBECONFIG=${shellQuote(kubeconfig)}`;
}

interface Health {
  readonly state: PlaneState | undefined;
  readonly alive: Partial<Record<ComponentName, boolean>>;
  readonly ready: boolean;
  readonly serverVersion: string | undefined;
}

async function health(stateDir: string): Promise<Health> {
  let state: PlaneState | undefined;
  try {
    state = readState(stateDir);
  } catch {
    state = undefined;
  }
  if (state === undefined) return { state, alive: {}, ready: false, serverVersion: undefined };
  const alive = Object.fromEntries(state.processes.map((p) => [p.name, isAlive(p.pid)]));
  let ready = false;
  let serverVersion: string | undefined;
  const plane = state.phase === 'running' ? attachControlPlane(stateDir) : undefined;
  if (plane !== undefined) {
    try {
      ready = (await httpGet(`${plane.server}/readyz`, { caPem: plane.caPem })).status === 200;
      const version = await httpGet(`${plane.server}/version`, { caPem: plane.caPem });
      serverVersion = (JSON.parse(version.body) as { gitVersion?: string }).gitVersion;
    } catch {
      ready = false;
    }
  }
  return { state, alive, ready, serverVersion };
}

/**
 * Serialises `up` and `down` of one state dir across processes: a second `up` waits for the first and then
 * finds the plane running. A lock whose holder died is taken over.
 */
async function withLock<T>(stateDir: string, action: () => Promise<T>): Promise<T> {
  const lock = `${stateDir}.lock`;
  const deadline = Date.now() + 300_000;
  let announced = false;
  for (;;) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(readFileSync(lock, 'utf8'), 10);
    if (!Number.isInteger(holder) || !isAlive(holder)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`m87 cluster: ${lock} is still held by pid ${holder}; giving up`);
    if (!announced) progress(`waiting for pid ${holder}, which is starting or stopping the plane`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  try {
    return await action();
  } finally {
    rmSync(lock, { force: true });
  }
}

async function up(stateDir: string, node: NodeKind): Promise<number> {
  let realNode = node === 'real';
  if (realNode) {
    try {
      checkRealNodePrerequisites();
    } catch (error) {
      if (!(error instanceof RealNodeUnavailableError)) throw error;
      process.stderr.write(`m87 cluster: ${error.message}; starting the control plane alone (job Pods run on the process node)\n`);
      realNode = false;
    }
  }
  const podNetworkAddress = realNode ? HOST_ADDRESS : undefined;
  const nodeDir = cliNodeStateDir(stateDir);
  const other = lockedRealNode();
  if (realNode && other !== undefined && other !== nodeDir && realNodeRunning(other)) {
    throw new Error(`m87 cluster: a real node is already running on this machine (state ${other}); one real node per machine: stop it first (its checkout's npm run cluster -- down)`);
  }
  const current = await health(stateDir);
  if (current.ready && current.state !== undefined) {
    if (!realNode || realNodeRunning(nodeDir)) {
      progress('already running');
      printReady(stateDir, realNode);
      return 0;
    }
    if (current.state.podNetworkAddress !== podNetworkAddress) {
      throw new Error('m87 cluster: the running control plane was started without --node real; stop it first (npm run cluster -- down), then up --node real');
    }
  } else {
    if (current.state !== undefined) {
      if (current.state.owner !== null && ownerAlive(current.state)) {
        throw new Error(`m87 cluster: ${stateDir} is in use by the running process ${current.state.owner.pid}`);
      }
      const stopped = await destroyPlane(stateDir);
      progress(`removed a stopped or unhealthy plane${stopped.length > 0 ? ` (stopped pids ${stopped.join(', ')})` : ''}`);
    }
    progress(`starting the local control plane in ${stateDir}`);
    await startControlPlane({ stateDir, persistent: true, onProgress: progress, ...(podNetworkAddress !== undefined ? { podNetworkAddress } : {}) });
  }
  if (realNode) {
    const plane = attachControlPlane(stateDir);
    if (plane === undefined) throw new Error('m87 cluster: the control plane stopped while the real node was starting');
    progress(`starting the real node in ${nodeDir}`);
    await startRealNode({ plane, stateDir: nodeDir, persistent: true, onProgress: progress });
  }
  printReady(stateDir, realNode);
  return 0;
}

function printReady(stateDir: string, realNode: boolean): void {
  const kubeconfig = planeLayout(stateDir).kubeconfig;
  out(`kubeconfig: ${kubeconfig}`);
  if (realNode) out(`real node:  running (state ${cliNodeStateDir(stateDir)}); the API server is at https://${HOST_ADDRESS}:<port> from the pod network`);
  out('contexts:   admin (current, system:masters), alice, bob (m87:approvers), viewer (m87:viewers)');
  out(exportLine(kubeconfig));
}

async function down(stateDir: string): Promise<number> {
  const state = (() => {
    try {
      return readState(stateDir);
    } catch {
      return undefined;
    }
  })();
  const nodeDir = cliNodeStateDir(stateDir);
  if (existsSync(nodeDir)) {
    const report = await destroyRealNode(nodeDir);
    out(`real node stopped in ${report.seconds.toFixed(1)} s; removed ${nodeDir}`);
    if (report.problems.length > 0) process.stderr.write(`m87 cluster: the real node's teardown left: ${report.problems.join('; ')}\n`);
  }
  const stopped = await destroyPlane(stateDir);
  if (state === undefined && stopped.length === 0) out('not running');
  else out(`stopped${stopped.length > 0 ? ` (pids ${stopped.join(', ')})` : ''}; removed ${stateDir}`);
  return 0;
}

async function status(stateDir: string): Promise<number> {
  const { state, alive, ready, serverVersion } = await health(stateDir);
  const versions = readVersions();
  if (state === undefined) {
    out('stopped');
    out(`  pinned versions: kubernetes ${versions.kubernetes}, etcd ${versions.etcd}`);
    return 1;
  }
  const allAlive = state.processes.length > 0 && state.processes.every((p) => alive[p.name] === true);
  const summary =
    ready && allAlive
      ? 'running (ready)'
      : state.phase === 'starting' && state.owner !== null && ownerAlive(state)
        ? `starting (by pid ${state.owner.pid})`
        : state.phase === 'running' && allAlive
          ? 'running (not ready)'
          : `stopped (stale state, phase ${state.phase}; \`up\` or \`down\` cleans it)`;
  out(summary);
  out(`  state dir:  ${stateDir}`);
  out(`  kubeconfig: ${planeLayout(stateDir).kubeconfig}`);
  out(`  server:     ${state.server ?? '-'}${serverVersion !== undefined ? ` (${serverVersion})` : ''}`);
  const ports: Record<ComponentName, string> = {
    etcd: `${state.ports.etcdClient ?? '-'} (peer ${state.ports.etcdPeer ?? '-'})`,
    'kube-apiserver': String(state.ports.apiserver ?? '-'),
    'kube-controller-manager': String(state.ports.controllerManager ?? '-'),
    'kube-scheduler': String(state.ports.scheduler ?? '-'),
  };
  for (const name of COMPONENTS) {
    const proc = state.processes.find((p) => p.name === name);
    const version = name === 'etcd' ? state.versions.etcd : state.versions.kubernetes;
    const pid = proc === undefined ? 'not started' : `pid ${proc.pid} ${alive[name] === true ? 'alive' : 'dead'}`;
    out(`  ${name.padEnd(24)} ${version.padEnd(9)} port ${ports[name].padEnd(18)} ${pid}`);
  }
  const nodeDir = cliNodeStateDir(stateDir);
  if (existsSync(nodeDir)) {
    try {
      const node = attachRealNode(nodeDir);
      node?.failIfCrashed();
      out(`  real node                ${node !== undefined ? 'running' : 'not running (down cleans it up)'} (state ${nodeDir})`);
    } catch (error) {
      out(`  real node                a component died (down cleans it up): ${(error as Error).message.replace(/\n/g, '\n  ')}`);
    }
  }
  return ready && allAlive ? 0 : 1;
}

async function env(stateDir: string): Promise<number> {
  const { ready } = await health(stateDir);
  if (!ready) {
    process.stderr.write('m87 cluster: not running; start it with `npm run cluster -- up`\n');
    return 1;
  }
  out(exportLine(planeLayout(stateDir).kubeconfig));
  return 0;
}

/** `--node real`, `--node=real`, `--node process`; undefined when the arguments are not understood. */
export function parseUpArguments(args: readonly string[]): NodeKind | undefined {
  if (args.length === 0) return 'process';
  const [flag, value, ...more] = args.length === 1 && args[0]?.startsWith('--node=') === true ? ['--node', args[0].slice('--node='.length)] : args;
  if (flag !== '--node' || more.length > 0 || (value !== 'real' && value !== 'process')) return undefined;
  return value;
}

async function main(argv: readonly string[]): Promise<number> {
  const stateDir = cliStateDir();
  const [command, ...rest] = argv;
  const node = command === 'up' ? parseUpArguments(rest) : rest.length === 0 ? 'process' : undefined;
  if (node === undefined) {
    process.stderr.write(`m87 cluster: unexpected arguments: ${rest.join(' ')}\n${USAGE}\n`);
    return 2;
  }
  switch (command) {
    case 'up':
      return withLock(stateDir, () => up(stateDir, node));
    case 'down':
      return withLock(stateDir, () => down(stateDir));
    case 'status':
      return status(stateDir);
    case 'env':
      return env(stateDir);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`m87 cluster: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      return 2;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      // Exit explicitly: idle keep-alive sockets of the probes must not hold the CLI open.
      process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
