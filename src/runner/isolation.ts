import { randomBytes } from 'node:crypto';
import { closeSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
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
}

export const DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const DEFAULT_API_CONNECT_TIMEOUT_MS = 1000;

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

/** Resolves when the connect failed or hung past the timeout; refuses when it succeeded. */
export async function checkApiServerUnreachable(host: string | undefined, port: string | undefined, timeoutMs: number): Promise<void> {
  if (host === undefined || host === '' || port === undefined || port === '') {
    stop('ISOLATION_API_SERVER_UNKNOWN', 'KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set, so API server egress cannot be checked');
  }
  const portNumber = Number(port);
  if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
    stop('ISOLATION_API_SERVER_UNKNOWN', `KUBERNETES_SERVICE_PORT ${JSON.stringify(port.slice(0, 16))} is not a port`);
  }
  const connected = await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port: portNumber });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
  if (connected) stop('ISOLATION_API_SERVER_REACHABLE', `a TCP connection to the API server ${host}:${portNumber} succeeded`);
}

export async function checkIsolation(env: IsolationEnvironment): Promise<void> {
  checkServiceAccountToken(env.serviceAccountTokenPath);
  checkNonRoot(env.getuid);
  checkRootReadOnly(env.rootDir);
  await checkApiServerUnreachable(env.apiServerHost, env.apiServerPort, env.apiConnectTimeoutMs);
}
