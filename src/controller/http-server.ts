// The controller's HTTP endpoints: /metrics (Prometheus text format), /healthz (the process is alive) and
// /readyz (caches synced and the default GovernancePolicy valid; the body says what is missing). Three
// read-only paths on node:http: a web framework cost the controller ~10 MiB of resident memory for them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

// node:http through process.getBuiltinModule, not an ES import: importing it as an ES module reads every
// export, and its lazy WebSocket/MessageEvent/CloseEvent getters load Node's bundled undici (+13 MiB RSS).
const { createServer } = process.getBuiltinModule('node:http');

export interface Readiness {
  ready: boolean;
  /** Why not ready (empty when ready). */
  reasons: string[];
}

export interface HttpServerOptions {
  registry: Registry;
  readiness: () => Readiness;
  /** Liveness; default always alive. */
  healthy?: () => boolean;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses "host:port", "[::1]:port" or ":port" (loopback). Port 0 picks a free port. */
export function parseListenAddress(value: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (!m) throw new Error(`--metrics-addr: ${JSON.stringify(value)} is not host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--metrics-addr: port ${port} is out of range`);
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '127.0.0.1' : m[2]);
  return { host, port };
}

/** A plain-text answer (what every endpoint but /metrics sends). */
function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** GET (and HEAD) of the three paths; anything else 404, other methods 405. */
async function handle(opts: HttpServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  const route = path === '/metrics' || path === '/healthz' || path === '/readyz' ? path : undefined;
  if (route === undefined) return text(res, 404, 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return text(res, 405, 'method not allowed\n');
  }
  switch (route) {
    case '/metrics': {
      let body: string;
      try {
        body = await opts.registry.metrics();
      } catch (err) {
        return text(res, 500, `metrics collection failed: ${(err as Error).message}\n`);
      }
      res.writeHead(200, { 'Content-Type': opts.registry.contentType, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    case '/healthz': {
      const ok = opts.healthy?.() ?? true;
      return text(res, ok ? 200 : 503, ok ? 'ok\n' : 'unhealthy\n');
    }
    case '/readyz': {
      const r = opts.readiness();
      return text(res, r.ready ? 200 : 503, r.ready ? 'ok\n' : r.reasons.map((x) => `not ready: ${x}`).join('\n') + '\n');
    }
  }
}

export interface RunningHttpServer {
  address: ListenAddress;
  close(): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions & { listen: ListenAddress }): Promise<RunningHttpServer> {
  const server = createServer((req, res) => {
    handle(opts, req, res).catch((err: unknown) => {
      if (!res.headersSent) text(res, 500, `${(err as Error).message}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    address: { host: addr.address, port: addr.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
