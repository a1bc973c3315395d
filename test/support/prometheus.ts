// A real Prometheus server (Debian's `prometheus` package) for the e2e-real tier, started by the test on
// loopback: it scrapes the Pod IPs behind the chart's metrics Service over the real node's bridge and loads
// rule files the test hands it. Debian builds Prometheus without Kubernetes service discovery, so the
// Service's EndpointSlices are read here (admin, through the API server on loopback) and handed to
// Prometheus as file-based discovery, refreshed every second. Stopped by PID; its TSDB lives in a temp dir.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';
import { resolveBinary } from '../../dev/cluster/binaries.ts';
import { waitUntil } from '../../dev/cluster/probe.ts';
import { kubeRequest } from '../../src/runtime/kube-http.ts';
import { startChild, type ChildProcessHandle } from '../../dev/demo/processes.ts';

/** hack/cluster-binaries.sh extracts it from Debian's prometheus package (no service installed); else the installed package's. */
function prometheusBinary(): string | undefined {
  try {
    return resolveBinary('prometheus');
  } catch {
    return [INSTALLED_PROMETHEUS].find((file) => {
      try {
        execFileSync(file, ['--version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
  }
}
const INSTALLED_PROMETHEUS = '/usr/bin/prometheus';

export interface PrometheusOptions {
  /** May list EndpointSlices in `namespace`. */
  readonly admin: KubeConfig;
  readonly namespace: string;
  readonly service: string;
  readonly port: string;
  /** Rule groups (Prometheus rule file format). */
  readonly ruleGroups: readonly unknown[];
}

interface EndpointSlice {
  ports?: { name?: string; port?: number }[];
  endpoints?: { addresses: string[]; targetRef?: { name?: string } }[];
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
  return prometheusBinary() === undefined ? 'prometheus is missing: npm run binaries (extracts it from Debian\'s prometheus package)' : undefined;
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
  const binary = prometheusBinary();
  if (binary === undefined) throw new Error(prometheusUnavailable());
  const dir = mkdtempSync(join(tmpdir(), 'm87-prometheus-'));
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, stringify({ groups: opts.ruleGroups }));
  const targetsFile = join(dir, 'targets.json');
  const discover = async (): Promise<void> => {
    const slices = await kubeRequest<{ items: EndpointSlice[] }>(opts.admin, {
      method: 'GET',
      path: `/apis/discovery.k8s.io/v1/namespaces/${opts.namespace}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${opts.service}`)}`,
    });
    const groups = slices.items.flatMap((slice) => {
      const port = slice.ports?.find((p) => p.name === opts.port)?.port;
      if (port === undefined) return [];
      return (slice.endpoints ?? []).flatMap((e) =>
        e.addresses.map((address) => ({ targets: [`${address}:${port}`], labels: { namespace: opts.namespace, pod: e.targetRef?.name ?? '', service: opts.service } })),
      );
    });
    const tmp = `${targetsFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(groups));
    renameSync(tmp, targetsFile);
  };
  await discover();
  const config = join(dir, 'prometheus.yaml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [rules],
      scrape_configs: [
        {
          job_name: 'm87-controller',
          file_sd_configs: [{ files: [targetsFile], refresh_interval: '1s' }],
        },
      ],
    }),
  );
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const refresh = setInterval(() => void discover().catch(() => undefined), 1000);
  const child = await startChild({
    name: 'prometheus',
    argv: [binary, `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
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
      clearInterval(refresh);
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
