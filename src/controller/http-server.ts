// The controller's HTTP endpoints (express): /metrics (Prometheus text format), /healthz (the process is
// alive) and /readyz (caches synced and the default GovernancePolicy valid; the body says what is missing).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Registry } from 'prom-client';

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

function createHttpApp(opts: HttpServerOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    try {
      const body = await opts.registry.metrics();
      res.set('Content-Type', opts.registry.contentType).send(body);
    } catch (err) {
      res.status(500).type('text/plain').send(`metrics collection failed: ${(err as Error).message}\n`);
    }
  });
  app.get('/healthz', (_req, res) => {
    const ok = opts.healthy?.() ?? true;
    res.status(ok ? 200 : 503).type('text/plain').send(ok ? 'ok\n' : 'unhealthy\n');
  });
  app.get('/readyz', (_req, res) => {
    const r = opts.readiness();
    res
      .status(r.ready ? 200 : 503)
      .type('text/plain')
      .send(r.ready ? 'ok\n' : r.reasons.map((x) => `not ready: ${x}`).join('\n') + '\n');
  });
  return app;
}

export interface RunningHttpServer {
  address: ListenAddress;
  close(): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions & { listen: ListenAddress }): Promise<RunningHttpServer> {
  const app = createHttpApp(opts);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.listen.port, opts.listen.host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
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
