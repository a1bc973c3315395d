import { randomBytes } from 'node:crypto';
import { closeSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { posix } from 'node:path';
import { stop } from './codes.ts';

/**
 * Isolation self-checks, run after envelope verification and before any step. Each mirrors a platform
 * control (automountServiceAccountToken: false, runAsNonRoot, readOnlyRootFilesystem, NetworkPolicy), so a
 * Pod that lost one of them refuses to run. Unknown is never safe.
 */
export interface IsolationEnvironment {
  /** Default /var/run/secrets/kubernetes.io/serviceaccount/token. */
  serviceAccountTokenPath: string;
  /** The root filesystem to probe for writability; default '/'. */
  rootDir: string;
  getuid: () => number;
  /** From KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT; both must be set. */
  apiServerHost: string | undefined;
  apiServerPort: string | undefined;
  /** How long a connect to the API server may hang before it counts as blocked. */
  apiConnectTimeoutMs: number;
  /**
   * How long a reachable API server is probed again before the job is refused (kube-router programs a new
   * Pod's firewall shortly after the Pod starts); default DEFAULT_API_REACHABLE_WINDOW_MS.
   */
  apiReachableWindowMs?: number;
  /** Pause between those probes; default DEFAULT_API_RETRY_INTERVAL_MS. */
  apiRetryIntervalMs?: number;
  /** Monotonic milliseconds and a sleep, injectable for tests; default performance.now and setTimeout. */
  clock?: { now: () => number; sleep: (ms: number) => Promise<void> };
  /** One TCP connect attempt; default probeApiServer (a real socket). */
  probe?: (host: string, port: number, timeoutMs: number) => Promise<ApiServerProbe>;
}

export const DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const DEFAULT_API_CONNECT_TIMEOUT_MS = 1000;
export const DEFAULT_API_REACHABLE_WINDOW_MS = 15_000;
export const DEFAULT_API_RETRY_INTERVAL_MS = 200;

export function checkServiceAccountToken(path: string): void {
  try {
    lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    stop('ISOLATION_CHECK_FAILED', `cannot tell whether a ServiceAccount token is mounted at ${path}: ${(e as Error).message}`);
  }
  stop('ISOLATION_SA_TOKEN_MOUNTED', `a ServiceAccount token is mounted at ${path}`);
}

export function checkNonRoot(getuid: () => number): void {
  let uid: number;
  try {
    uid = getuid();
  } catch (e) {
    stop('ISOLATION_CHECK_FAILED', `cannot read the process uid: ${(e as Error).message}`);
  }
  if (!Number.isInteger(uid)) stop('ISOLATION_CHECK_FAILED', 'the process uid is unknown');
  if (uid === 0) stop('ISOLATION_RUNNING_AS_ROOT', 'the runner runs as uid 0');
}

/** Creating a file directly under the root must fail; if it succeeds the file is removed and the job refused. */
export function checkRootReadOnly(rootDir: string): void {
  const probe = posix.join(rootDir, `.m87-probe-${randomBytes(8).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(probe, 'wx', 0o600);
  } catch {
    return; // EROFS (read-only root), EACCES (not ours): either way nothing can be written there.
  }
  closeSync(fd);
  try {
    unlinkSync(probe);
  } catch {
    // Refused anyway.
  }
  stop('ISOLATION_ROOT_WRITABLE', `the root filesystem is writable (created ${probe})`);
}

/**
 * What one TCP connect to the API server's address showed, seen from inside the Pod:
 * - `blocked`: refused (ECONNREFUSED: kube-router's REJECT answers with ICMP port-unreachable) or no answer
 *   within the timeout (a DROP): the address is routed and something on the path said no — the policy;
 * - `no-route`: EHOSTUNREACH/ENETUNREACH: the Pod has no way to the address at all — addressing, not policy
 *   (the job still runs, and the receipt says so);
 * - `reachable`: the connection was accepted;
 * - `unknown`: anything else (a reset, a local error): never taken as safe.
 */
export type ApiServerResult = 'blocked' | 'no-route' | 'reachable' | 'unknown';

export interface ApiServerProbe {
  result: ApiServerResult;
  /** The errno code, 'timeout' or 'connected'. */
  cause: string;
}

/** What the self-check found, for the receipt (`isolation.apiServer`). */
export interface ApiServerCheck extends ApiServerProbe {
  result: 'blocked' | 'no-route';
  /** Connect attempts made (more than one when an early one got through before the policy was in place). */
  attempts: number;
  /** Milliseconds from the first attempt until the answer that counted. */
  waitedMs: number;
}

export interface IsolationResult {
  apiServer: ApiServerCheck;
}

/** Maps a connect error to its meaning; exported for the unit tests of errors a loopback socket cannot produce. */
export function classifyConnectError(code: string | undefined): ApiServerProbe {
  const c = code ?? '';
  switch (c) {
    case 'ECONNREFUSED':
      return { result: 'blocked', cause: c };
    case 'ETIMEDOUT':
      return { result: 'blocked', cause: 'timeout' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { result: 'no-route', cause: c };
    default:
      return { result: 'unknown', cause: c === '' ? 'error' : c };
  }
}

/** One TCP connect to host:port, classified; a connect that hangs past timeoutMs counts as blocked. */
export function probeApiServer(host: string, port: number, timeoutMs: number): Promise<ApiServerProbe> {
  return new Promise<ApiServerProbe>((resolve) => {
    const socket = connect({ host, port });
    const done = (p: ApiServerProbe): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(p);
    };
    const timer = setTimeout(() => done({ result: 'blocked', cause: 'timeout' }), timeoutMs);
    socket.once('connect', () => done({ result: 'reachable', cause: 'connected' }));
    socket.once('error', (e: NodeJS.ErrnoException) => done(classifyConnectError(e.code)));
  });
}

export interface ApiServerCheckOptions {
  timeoutMs: number;
  windowMs?: number;
  intervalMs?: number;
  clock?: { now: () => number; sleep: (ms: number) => Promise<void> };
  probe?: (host: string, port: number, timeoutMs: number) => Promise<ApiServerProbe>;
}

const realClock = { now: () => performance.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };

/**
 * The API server must not be reachable from the Pod. Blocked (by the NetworkPolicy) and no-route (by
 * addressing) both let the job run and are returned for the receipt. A reachable API server is probed again
 * every `intervalMs` for up to `windowMs` — kube-router programs a new Pod's firewall a moment after the Pod
 * starts — and refuses the job (ISOLATION_API_SERVER_REACHABLE) when it is still reachable after that;
 * anything unknown refuses at once (ISOLATION_CHECK_FAILED).
 */
export async function checkApiServerUnreachable(host: string | undefined, port: string | undefined, options: ApiServerCheckOptions): Promise<ApiServerCheck> {
  if (host === undefined || host === '' || port === undefined || port === '') {
    stop('ISOLATION_API_SERVER_UNKNOWN', 'KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set, so API server egress cannot be checked');
  }
  const portNumber = Number(port);
  if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
    stop('ISOLATION_API_SERVER_UNKNOWN', `KUBERNETES_SERVICE_PORT ${JSON.stringify(port.slice(0, 16))} is not a port`);
  }
  const clock = options.clock ?? realClock;
  const probe = options.probe ?? probeApiServer;
  const windowMs = options.windowMs ?? DEFAULT_API_REACHABLE_WINDOW_MS;
  const intervalMs = Math.max(1, options.intervalMs ?? DEFAULT_API_RETRY_INTERVAL_MS);
  const started = clock.now();
  for (let attempts = 1; ; attempts++) {
    let p: ApiServerProbe;
    try {
      p = await probe(host, portNumber, options.timeoutMs);
    } catch (e) {
      p = { result: 'unknown', cause: (e as Error).message.slice(0, 64) };
    }
    const waitedMs = Math.max(0, Math.round(clock.now() - started));
    if (p.result === 'blocked' || p.result === 'no-route') return { result: p.result, cause: p.cause, attempts, waitedMs };
    if (p.result === 'unknown') {
      stop('ISOLATION_CHECK_FAILED', `cannot tell whether the API server ${host}:${portNumber} is reachable: the connect failed with ${p.cause}`);
    }
    if (waitedMs >= windowMs) {
      stop('ISOLATION_API_SERVER_REACHABLE', `a TCP connection to the API server ${host}:${portNumber} still succeeded after ${attempts} attempts over ${waitedMs} ms`);
    }
    await clock.sleep(Math.min(intervalMs, Math.max(1, windowMs - waitedMs)));
  }
}

export async function checkIsolation(env: IsolationEnvironment): Promise<IsolationResult> {
  checkServiceAccountToken(env.serviceAccountTokenPath);
  checkNonRoot(env.getuid);
  checkRootReadOnly(env.rootDir);
  const apiServer = await checkApiServerUnreachable(env.apiServerHost, env.apiServerPort, {
    timeoutMs: env.apiConnectTimeoutMs,
    ...(env.apiReachableWindowMs !== undefined ? { windowMs: env.apiReachableWindowMs } : {}),
    ...(env.apiRetryIntervalMs !== undefined ? { intervalMs: env.apiRetryIntervalMs } : {}),
    ...(env.clock !== undefined ? { clock: env.clock } : {}),
    ...(env.probe !== undefined ? { probe: env.probe } : {}),
  });
  return { apiServer };
}
