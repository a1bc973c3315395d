// A loopback HTTP proxy in front of the real kube-apiserver that records every request one controller replica
// makes (method, path, response status, when), so writes can be attributed to the replica that sent them. It adds
// the upstream credentials itself and passes everything through unchanged; it is not a mock of Kubernetes.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { chaosLogDir } from './controller-process.ts';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly watch: boolean;
  /** performance.now() when the request arrived at the proxy. */
  readonly at: number;
  /** metadata.name from the body of a POST (the object being created). */
  name: string | undefined;
  /** HTTP status from the API server (0: no response, e.g. the connection broke). */
  status: number;
  /** performance.now() when the response ended (undefined while in flight). */
  doneAt: number | undefined;
}

export interface RecordingProxy {
  /** A kubeconfig file (plain HTTP to the proxy, no credentials) for the replica. */
  readonly kubeconfigPath: string;
  readonly requests: readonly RecordedRequest[];
  /** Non-GET requests (the replica's writes). */
  writes(): RecordedRequest[];
  /** Non-watch requests still waiting for their response. */
  inFlight(): number;
  /**
   * Holds back the API server's responses to non-watch requests matching `which` (requests still go through),
   * so the client's code that awaits them stays suspended exactly there; release() delivers them.
   */
  holdResponses(which: (r: RecordedRequest) => boolean): void;
  /** Delivers the held responses and stops holding; returns how many were held. */
  release(): number;
  /** Responses held right now. */
  held(): number;
  /** performance.now() of the last non-watch request (matching `include`) that arrived or finished. */
  lastActivityAt(include?: (r: RecordedRequest) => boolean): number;
  close(): Promise<void>;
}

export async function startRecordingProxy(upstream: KubeConfig, label: string): Promise<RecordingProxy> {
  const cluster = upstream.getCurrentCluster();
  if (cluster === null) throw new Error('recording proxy: the upstream kubeconfig has no current cluster');
  const target = new URL(cluster.server);
  const tls: https.RequestOptions = {};
  await upstream.applyToHTTPSOptions(tls);
  const agent = new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });
  const authHeaders = (tls.headers ?? {}) as Record<string, string>;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const started = performance.now();
  let holding: ((r: RecordedRequest) => boolean) | undefined;
  let heldResponses: (() => void)[] = [];
  let lastActivity = started;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const watch = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
    const record: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, watch, at: performance.now(), name: undefined, status: 0, doneAt: undefined };
    if (record.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          record.name = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { metadata?: { name?: string } }).metadata?.name;
        } catch {
          // not JSON: not one of ours
        }
      });
    }
    requests.push(record);
    if (!watch) lastActivity = record.at;
    const finish = (): void => {
      if (record.doneAt === undefined) record.doneAt = performance.now();
      if (!watch) lastActivity = performance.now();
    };
    const upReq = https.request(
      {
        agent,
        protocol: 'https:',
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: url.pathname + url.search,
        headers: { ...req.headers, ...authHeaders, host: target.host },
      },
      (upRes) => {
        record.status = upRes.statusCode ?? 0;
        const deliver = (): void => {
          if (res.destroyed) {
            // The client is gone (killed): the outcome is recorded, the body is not needed.
            upRes.resume();
            upRes.on('end', finish);
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          if (watch) res.flushHeaders();
          upRes.pipe(res);
          upRes.on('end', finish);
          upRes.on('close', finish);
        };
        if (!watch && holding !== undefined && holding(record)) {
          upRes.pause();
          heldResponses.push(deliver);
        } else {
          deliver();
        }
      },
    );
    upReq.on('error', () => {
      finish();
      res.destroy();
    });
    res.on('close', () => {
      // A write whose client died still completes upstream, so its outcome (status) is known.
      if (watch) {
        finish();
        upReq.destroy();
      }
    });
    req.pipe(upReq);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('recording proxy: no port');

  const kubeconfigPath = join(chaosLogDir(), `proxy-${label}-${address.port}.kubeconfig`);
  // Plain HTTP on loopback; client-node insists on insecure-skip-tls-verify to allow http:// at all.
  writeFileSync(
    kubeconfigPath,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: proxy\n  cluster:\n    server: http://127.0.0.1:${address.port}\n    insecure-skip-tls-verify: true`,
      'users:',
      '- name: proxy\n  user: {}',
      'contexts:',
      '- name: proxy\n  context:\n    cluster: proxy\n    user: proxy',
      'current-context: proxy',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  return {
    kubeconfigPath,
    requests,
    writes: () => requests.filter((r) => r.method !== 'GET'),
    inFlight: () => requests.filter((r) => !r.watch && r.doneAt === undefined).length,
    lastActivityAt: (include) => {
      if (include === undefined) return lastActivity;
      let last = started;
      for (const r of requests) if (!r.watch && include(r)) last = Math.max(last, r.doneAt ?? performance.now(), r.at);
      return last;
    },
    holdResponses: (which) => {
      holding = which;
    },
    release: () => {
      holding = undefined;
      const all = heldResponses;
      heldResponses = [];
      for (const deliver of all) deliver();
      return all.length;
    },
    held: () => heldResponses.length,
    close: async () => {
      heldResponses = [];
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
