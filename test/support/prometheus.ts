// A real Prometheus server (Debian's `prometheus` package) for the e2e-real tier, started by the test on
// loopback: it discovers the controller through the chart's metrics Service (Kubernetes service discovery,
// role endpoints, through the API server on loopback) and scrapes the Pod IPs behind it over the real node's
// bridge; it loads rule files the test hands it. Stopped by PID; its TSDB lives in a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { waitUntil } from '../../dev/cluster/probe.ts';
import { startChild, type ChildProcessHandle } from '../../dev/demo/processes.ts';

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';

export interface PrometheusOptions {
  /** A kubeconfig whose current context may list Endpoints/EndpointSlices, Services and Pods. */
  readonly kubeconfigFile: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: string;
  /** Rule groups (Prometheus rule file format). */
  readonly ruleGroups: readonly unknown[];
}

export interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  readonly url: string;
  readonly process: ChildProcessHandle;
  query(expr: string): Promise<PromSeries[]>;
  /** Active alerts (pending or firing). */
  alerts(): Promise<{ labels: Record<string, string>; state: string }[]>;
  /** Scrape targets (health up/down/unknown). */
  targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string }[]>;
  stop(): Promise<void>;
}

/** Why Prometheus cannot run here, or undefined: the binary from Debian's prometheus package. */
export function prometheusUnavailable(): string | undefined {
  try {
    execFileSync(PROMETHEUS_BINARY, ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `${PROMETHEUS_BINARY} is missing: apt-get install --no-install-recommends prometheus (as root)`;
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'm87-prometheus-'));
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, stringify({ groups: opts.ruleGroups }));
  const config = join(dir, 'prometheus.yaml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [rules],
      scrape_configs: [
        {
          job_name: 'm87-controller',
          kubernetes_sd_configs: [{ role: 'endpoints', kubeconfig_file: opts.kubeconfigFile, namespaces: { names: [opts.namespace] } }],
          relabel_configs: [
            { source_labels: ['__meta_kubernetes_service_name', '__meta_kubernetes_endpoint_port_name'], regex: `${opts.service};${opts.port}`, action: 'keep' },
            { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
            { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          ],
        },
      ],
    }),
  );
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const child = await startChild({
    name: 'prometheus',
    argv: [PROMETHEUS_BINARY, `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    logFile: join(dir, 'prometheus.log'),
  });
  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
    const body = (await r.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? body.status}`);
    return body.data;
  };
  const server: PrometheusServer = {
    url,
    process: child,
    query: async (expr) => (await api<{ result: PromSeries[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    alerts: async () => (await api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts')).alerts,
    targets: async () => (await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>('/api/v1/targets')).activeTargets,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntil(async () => ((await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200 ? true : undefined), {
      what: 'Prometheus ready',
      timeoutMs: 30_000,
      intervalMs: 200,
      abortIf: () => {
        const exit = child.exit();
        if (exit !== undefined) throw new Error(`prometheus exited: ${child.log().trim().split('\n').slice(-10).join('\n')}`);
      },
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
