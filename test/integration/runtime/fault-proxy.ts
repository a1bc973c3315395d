// A loopback HTTP proxy in front of the real apiserver that injects the network faults informers must
// survive: a partition (all connections dropped and refused), watches that go silent while the
// connection stays up, and a watch resumed at a resourceVersion the apiserver no longer has (it rewrites
// the next watch's resourceVersion to "1", so the *real* apiserver answers 410 Gone). It can also hold back
// the apiserver's responses to chosen requests (the request itself goes through, so the server acts on it
// at once; only the client learns late) and answer one chosen request with an error instead of forwarding
// it. Everything else is passed through unchanged; it is not a mock of Kubernetes.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface WatchRequest {
  path: string;
  params: URLSearchParams;
}

export interface FaultProxy {
  /** A KubeConfig that reaches the apiserver through the proxy (credentials are added by the proxy). */
  kubeConfig: KubeConfig;
  /** Drops every open connection and refuses new ones until heal(). */
  partition(): void;
  heal(): void;
  /** Open watches stop delivering data; new watches get headers and then nothing. */
  silenceWatches(): void;
  unsilenceWatches(): void;
  /** The next watch is sent upstream with resourceVersion=1 (too old), so the apiserver answers 410. */
  expireNextWatch(): void;
  /** Ends the open watches whose path ends with `pathSuffix`; their next watch is sent with resourceVersion=1 (410). */
  expireWatches(pathSuffix: string): void;
  /** Holds back the responses to non-watch requests matching `which` (they reach the apiserver unchanged). */
  holdResponses(which: (req: ProxiedRequest) => boolean): void;
  /** Delivers the first `count` held responses (default all, and stops holding); returns how many. */
  releaseHeld(count?: number): number;
  /** Responses held right now. */
  held(): number;
  /** Answers the next request matching `which` with `status` instead of forwarding it. */
  failNext(which: (req: ProxiedRequest) => boolean, status?: number): void;
  /** Requests answered by failNext so far. */
  failed: ProxiedRequest[];
  watchRequests: WatchRequest[];
  listRequests: string[];
  close(): Promise<void>;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  params: URLSearchParams;
}

export async function startFaultProxy(upstream: KubeConfig): Promise<FaultProxy> {
  const cluster = upstream.getCurrentCluster();
  if (!cluster) throw new Error('fault proxy: upstream kubeconfig has no current cluster');
  const target = new URL(cluster.server);
  const tls: https.RequestOptions = {};
  await upstream.applyToHTTPSOptions(tls);
  const agent = new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });
  const authHeaders = (tls.headers ?? {}) as Record<string, string>;

  let partitioned = false;
  let silenced = false;
  let expireNext = false;
  const sockets = new Set<Socket>();
  const upstreamRequests = new Set<http.ClientRequest>();
  const watchPipes = new Set<{ from: http.IncomingMessage; to: http.ServerResponse }>();
  const heldWatches = new Set<http.ServerResponse>();
  const watchRequests: WatchRequest[] = [];
  const listRequests: string[] = [];
  const expireOn = new Set<string>();
  const openWatches = new Set<{ path: string; res: http.ServerResponse }>();
  let holding: ((req: ProxiedRequest) => boolean) | undefined;
  let heldResponses: (() => void)[] = [];
  const failures: { which: (req: ProxiedRequest) => boolean; status: number }[] = [];
  const failed: ProxiedRequest[] = [];

  const server = http.createServer((req, res) => {
    if (partitioned) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://proxy');
    const watch = url.searchParams.get('watch');
    const isWatch = watch === '1' || watch === 'true';
    const proxied: ProxiedRequest = { method: req.method ?? 'GET', path: url.pathname, params: new URLSearchParams(url.searchParams) };
    const failure = isWatch ? undefined : failures.find((f) => f.which(proxied));
    if (failure !== undefined) {
      failures.splice(failures.indexOf(failure), 1);
      failed.push(proxied);
      req.resume();
      res.writeHead(failure.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'injected by the fault proxy', code: failure.status }));
      return;
    }
    if (isWatch) {
      watchRequests.push({ path: url.pathname, params: new URLSearchParams(url.searchParams) });
      const expiring = [...expireOn].find((suffix) => url.pathname.endsWith(suffix));
      if (expireNext || expiring !== undefined) {
        expireNext = false;
        if (expiring !== undefined) expireOn.delete(expiring);
        url.searchParams.set('resourceVersion', '1');
      }
      const open = { path: url.pathname, res };
      openWatches.add(open);
      res.on('close', () => openWatches.delete(open));
      if (silenced) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        heldWatches.add(res);
        res.on('close', () => heldWatches.delete(res));
        return;
      }
    } else if (req.method === 'GET') {
      listRequests.push(url.pathname + url.search);
    }
    const headers: http.OutgoingHttpHeaders = { ...req.headers, ...authHeaders, host: target.host };
    const upReq = https.request(
      {
        agent,
        protocol: 'https:',
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: url.pathname + url.search,
        headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (isWatch) {
          res.flushHeaders();
          const pipe = { from: upRes, to: res };
          watchPipes.add(pipe);
          res.on('close', () => {
            watchPipes.delete(pipe);
            upRes.destroy();
          });
          if (silenced) {
            upRes.pause();
            return;
          }
        } else if (holding !== undefined && holding(proxied)) {
          upRes.pause();
          heldResponses.push(() => (res.destroyed ? upRes.resume() : upRes.pipe(res)));
          return;
        }
        upRes.pipe(res);
      },
    );
    upstreamRequests.add(upReq);
    upReq.on('close', () => upstreamRequests.delete(upReq));
    upReq.on('error', () => res.destroy());
    res.on('close', () => upReq.destroy());
    req.pipe(upReq);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no port');

  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    // Plain HTTP on loopback; client-node insists on skipTLSVerify to allow http:// at all.
    clusters: [{ name: 'proxy', server: `http://127.0.0.1:${address.port}`, skipTLSVerify: true }],
    users: [{ name: 'proxy' }],
    contexts: [{ name: 'proxy', cluster: 'proxy', user: 'proxy' }],
    currentContext: 'proxy',
  });

  const dropAll = (): void => {
    for (const r of upstreamRequests) r.destroy();
    for (const s of sockets) s.destroy();
  };

  return {
    kubeConfig,
    partition: () => {
      partitioned = true;
      dropAll();
    },
    heal: () => {
      partitioned = false;
    },
    silenceWatches: () => {
      silenced = true;
      for (const { from, to } of watchPipes) {
        from.unpipe(to);
        from.pause();
      }
    },
    unsilenceWatches: () => {
      silenced = false;
    },
    expireNextWatch: () => {
      expireNext = true;
    },
    expireWatches: (pathSuffix) => {
      expireOn.add(pathSuffix);
      for (const w of openWatches) if (w.path.endsWith(pathSuffix)) w.res.destroy();
    },
    holdResponses: (which) => {
      holding = which;
    },
    releaseHeld: (count) => {
      if (count === undefined) holding = undefined;
      const now = heldResponses.slice(0, count ?? heldResponses.length);
      heldResponses = heldResponses.slice(now.length);
      for (const deliver of now) deliver();
      return now.length;
    },
    held: () => heldResponses.length,
    failNext: (which, status = 500) => {
      failures.push({ which, status });
    },
    failed,
    watchRequests,
    listRequests,
    close: async () => {
      dropAll();
      for (const res of heldWatches) res.destroy();
      heldResponses = [];
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
