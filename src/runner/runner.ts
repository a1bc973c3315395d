import { performance } from 'node:perf_hooks';
import { DEFAULT_API_CONNECT_TIMEOUT_MS, DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH, type IsolationEnvironment } from './isolation.ts';

/**
 * What the runner's commands share: the environment they read (the Pod's, or a test's), the exit codes and
 * the scrubbed environment a tool process gets. The commands themselves: `m87 install-runner`
 * (install.ts), `m87 step <i>` in each step's tool image (tool-step.ts) and `m87 runner`, the final
 * container composing the receipt (finish.ts). docs/architecture.md, "Job execution".
 */

export interface RunnerEnvironment {
  /** Where M87_* and PATH/LANG are read from (normally process.env). */
  env: Readonly<Record<string, string | undefined>>;
  isolation: IsolationEnvironment;
  /** Monotonic milliseconds. */
  now: () => number;
  /** Receives the one-line JSON log. */
  log: (line: string) => void;
}

export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const EXIT_CODES = { Succeeded: 0, Failed: 1, Refused: 2, receiptNotWritten: 3 } as const;

export function defaultRunnerEnvironment(env: NodeJS.ProcessEnv = process.env): RunnerEnvironment {
  return {
    env,
    isolation: {
      serviceAccountTokenPath: DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH,
      rootDir: '/',
      getuid: () => (typeof process.getuid === 'function' ? process.getuid() : Number.NaN),
      apiServerHost: env.KUBERNETES_SERVICE_HOST,
      apiServerPort: env.KUBERNETES_SERVICE_PORT,
      apiConnectTimeoutMs: DEFAULT_API_CONNECT_TIMEOUT_MS,
    },
    now: () => performance.now(),
    log: (line) => process.stdout.write(line + '\n'),
  };
}

/** Only PATH, HOME (the workspace), LANG and, for networked tools, the egress gate as proxy. */
export function childEnvironment(env: RunnerEnvironment['env'], workspace: string, proxyUrl: string | undefined): Record<string, string> {
  const out: Record<string, string> = {
    PATH: env.PATH !== undefined && env.PATH !== '' ? env.PATH : DEFAULT_PATH,
    HOME: workspace,
    LANG: env.LANG !== undefined && env.LANG !== '' ? env.LANG : 'C.UTF-8',
  };
  if (proxyUrl !== undefined) {
    out.HTTP_PROXY = proxyUrl;
    out.HTTPS_PROXY = proxyUrl;
    out.http_proxy = proxyUrl;
    out.https_proxy = proxyUrl;
  }
  return out;
}
