// The runtime's transport (node:http/https, one keep-alive pool per KubeAccess) against real loopback servers:
// pooling, the one retry after a stale pooled socket, errors, and TLS with a client certificate.
import { createServer, Agent as HttpAgent, get as httpGet, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../../dev/cluster/pki.ts';
import { closeConnections, closeIdleSockets, hasConnectionPool, withOwnConnections } from '../../../src/runtime/connection-pool.ts';
import { KubeAccess, staticCredentials } from '../../../src/runtime/kube-access.ts';
import { errorCode, errorReason, isConflict, isNotFound, KubeApiError, kubeRequest, streamWatch } from '../../../src/runtime/kube-http.ts';
import { KubeTransportError, transportStats } from '../../../src/runtime/kube-transport.ts';

interface Loopback {
  url: string;
  /** Sockets the server accepted. */
  connections: number;
  /** Requests whose handler ran to the end (a response was sent). */
  answered: { method: string; url: string; body: string; auth: string | undefined }[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, ctx: { nth: number; body: string }) => void;

const servers: (Server | TlsServer)[] = [];
const accesses: KubeAccess[] = [];

afterEach(async () => {
  for (const a of accesses.splice(0)) await closeConnections(a);
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => (s.closeAllConnections(), s.close(resolve)))));
});

/** A plain-HTTP loopback server; ctx.nth is the request's number on its socket (1 = fresh connection). */
async function loopback(handler: Handler): Promise<Loopback> {
  const perSocket = new WeakMap<Socket, number>();
  const state: Loopback = { url: '', connections: 0, answered: [], close: () => Promise.resolve() };
  const server = createServer((req, res) => {
    const nth = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, nth);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      res.on('finish', () => state.answered.push({ method: req.method ?? '', url: req.url ?? '', body, auth: req.headers.authorization }));
      handler(req, res, { nth, body });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => state.connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function access(url: string, token = 't0ken'): KubeAccess {
  const a = new KubeAccess(staticCredentials({ source: 'test', server: url, insecureSkipTlsVerify: true, token }));
  accesses.push(a);
  return a;
}

const json = (res: ServerResponse, code: number, body: unknown): void => {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('kube transport (node:http, one keep-alive pool per KubeAccess)', () => {
  it('sends JSON with the bearer token and reuses one connection per access', async () => {
    const server = await loopback((req, res, { body }) => json(res, 200, { method: req.method, echo: body === '' ? null : (JSON.parse(body) as unknown) }));
    const a = access(server.url);
    expect(await kubeRequest(a, { method: 'GET', path: '/api/v1/namespaces', query: { limit: 5, continue: undefined } })).toEqual({ method: 'GET', echo: null });
    expect(await kubeRequest(a, { method: 'POST', path: '/api/v1/namespaces', body: { a: 1 } })).toEqual({ method: 'POST', echo: { a: 1 } });
    expect(server.connections).toBe(1);
    expect(server.answered.map((r) => [r.url, r.auth])).toEqual([
      ['/api/v1/namespaces?limit=5', 'Bearer t0ken'],
      ['/api/v1/namespaces', 'Bearer t0ken'],
    ]);
    expect(hasConnectionPool(a)).toBe(true);
    // A view with its own connections opens its own socket and closes alone.
    const own = withOwnConnections(a);
    await kubeRequest(own, { method: 'GET', path: '/x' });
    expect(server.connections).toBe(2);
    await own.closePool();
    expect(hasConnectionPool(own)).toBe(false);
    await kubeRequest(a, { method: 'GET', path: '/y' });
    expect(server.connections).toBe(2);
  });

  it('sends a GET once more when its reused keep-alive socket turns out closed; a write fails and is not replayed', async () => {
    // The server drops a kept-alive socket when the next request arrives on it, as a server whose idle timeout
    // fired just as the request was written — or one killed while it applied the request: it saw every one.
    const seen: string[] = [];
    const server = await loopback((req, res, { nth }) => {
      seen.push(req.method ?? '');
      if (nth >= 2) res.socket?.destroy();
      else json(res, 200, { ok: true });
    });
    const a = access(server.url);
    const before = transportStats.staleRetries;
    for (const path of ['/r1', '/r2', '/r3']) expect(await kubeRequest(a, { method: 'GET', path })).toEqual({ ok: true });
    // Every read after the first found its pooled socket stale and was answered on a new connection, once each.
    expect(transportStats.staleRetries - before).toBe(2);
    expect(server.answered.map((r) => r.url)).toEqual(['/r1', '/r2', '/r3']);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      seen.length = 0;
      const err: unknown = await kubeRequest(a, { method, path: `/${method}`, ...(method === 'DELETE' ? {} : { body: { m: method } }) }).catch((e: unknown) => e);
      // The server handled the write before the socket died: sending it again would apply it twice.
      expect(err, method).toBeInstanceOf(KubeTransportError);
      expect(seen, method).toEqual([method]);
      // The failed write left no pooled socket: prime a fresh one for the next write to find stale.
      await kubeRequest(a, { method: 'GET', path: '/prime' });
    }
    expect(transportStats.staleRetries - before).toBe(2);
  });

  it('closes a pooled socket idle longer than its limit, before the server would; a slow answer keeps its socket', async () => {
    const closed: number[] = [];
    let opened = 0;
    const server = await loopback((req, res) => setTimeout(() => json(res, 200, { url: req.url }), req.url === '/slow' ? 300 : 0));
    for (const s of servers) s.on('connection', (socket: Socket) => ((opened += 1), socket.on('close', () => closed.push(performance.now()))));
    const agent = closeIdleSockets(new HttpAgent({ keepAlive: true }), 150);
    /** Whether the request went out on a pooled socket, and that socket's timeout while it was in use. */
    const get = (path: string): Promise<[reused: boolean, timeoutInUse: number | undefined]> =>
      new Promise((resolve, reject) => {
        const r = httpGet(`${server.url}${path}`, { agent }, (res) => {
          const timeoutInUse = res.socket.timeout ?? 0;
          res.resume();
          res.on('end', () => resolve([r.reusedSocket, timeoutInUse]));
        });
        r.on('error', reject);
      });
    try {
      expect(await get('/fast')).toEqual([false, 0]);
      // Pooled again, then in use for longer than the idle limit: a socket in use has no timeout.
      expect(await get('/slow')).toEqual([true, 0]);
      expect(opened).toBe(1);
      // Idle past the limit: our side closed it, so the next request opens a new connection (nothing stale).
      const idleFrom = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(closed).toHaveLength(1);
      expect(closed[0]! - idleFrom).toBeGreaterThanOrEqual(100);
      expect(await get('/fast')).toEqual([false, 0]);
      expect(opened).toBe(2);
    } finally {
      agent.destroy();
    }
  });

  it('does not retry a reset on a fresh connection, and retries a stale socket only once', async () => {
    const server = await loopback((_req, res) => res.socket?.destroy());
    const a = access(server.url);
    const before = transportStats.staleRetries;
    const err: unknown = await kubeRequest(a, { method: 'POST', path: '/apis/x', body: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeTransportError);
    expect((err as KubeTransportError).code).toBe('ECONNRESET');
    expect((err as Error).message).toContain('POST /apis/x');
    expect(errorCode(err)).toBeUndefined();
    expect(transportStats.staleRetries - before).toBe(0);
    expect(server.connections).toBe(1);

    // A GET on a stale reused socket, then the fresh retry fails too: the error is reported, not retried again.
    let fail = false;
    const flaky = await loopback((_req, res, { nth }) => (fail || nth >= 2 ? res.socket?.destroy() : json(res, 200, {})));
    const b = access(flaky.url);
    await kubeRequest(b, { method: 'GET', path: '/warm' });
    fail = true;
    const second: unknown = await kubeRequest(b, { method: 'GET', path: '/w' }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(KubeTransportError);
    expect(flaky.connections).toBe(2);
    expect(transportStats.staleRetries - before).toBe(1);
  });

  it('does not retry once a response has started', async () => {
    const server = await loopback((_req, res, { nth }) => {
      if (nth === 1) return json(res, 200, { ok: true });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const a = access(server.url);
    await kubeRequest(a, { method: 'GET', path: '/a' });
    const before = transportStats.staleRetries;
    await expect(kubeRequest(a, { method: 'POST', path: '/b', body: {} })).rejects.toThrow();
    expect(transportStats.staleRetries - before).toBe(0);
    expect(server.connections).toBe(1);
  });

  it('turns a Status answer into a KubeApiError naming method and path; aborts with the signal’s reason', async () => {
    const server = await loopback((req, res) => {
      if (req.url === '/missing') return json(res, 404, { kind: 'Status', status: 'Failure', reason: 'NotFound', message: 'x not found', code: 404 });
      if (req.url === '/exists') return json(res, 409, { kind: 'Status', status: 'Failure', reason: 'AlreadyExists', message: 'x exists', code: 409 });
      if (req.url === '/text') return void res.writeHead(500).end('boom');
      if (req.url === '/half') return void res.writeHead(200, { 'Content-Type': 'application/json' }).write('{"never":'); // the rest never comes
      // /slow: never answers.
    });
    const a = access(server.url);
    const missing: unknown = await kubeRequest(a, { method: 'GET', path: '/missing' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(KubeApiError);
    expect(isNotFound(missing)).toBe(true);
    expect((missing as KubeApiError).message).toBe('GET /missing failed with HTTP 404: NotFound: x not found');
    const exists: unknown = await kubeRequest(a, { method: 'POST', path: '/exists', body: {} }).catch((e: unknown) => e);
    expect(isConflict(exists)).toBe(true);
    expect(errorReason(exists)).toBe('AlreadyExists');
    const text: unknown = await kubeRequest(a, { method: 'DELETE', path: '/text' }).catch((e: unknown) => e);
    expect(errorCode(text)).toBe(500);
    expect((text as KubeApiError).body).toBe('boom');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await expect(kubeRequest(a, { method: 'GET', path: '/slow', signal: controller.signal })).rejects.toThrow('stop');
    await expect(kubeRequest(a, { method: 'GET', path: '/slow', timeoutMs: 50 })).rejects.toMatchObject({ name: 'TimeoutError' });
    // The timeout covers the whole answer, not only its head.
    await expect(kubeRequest(a, { method: 'GET', path: '/half', timeoutMs: 50 })).rejects.toMatchObject({ name: 'TimeoutError' });
    // A request answered in time is not touched by its timeout afterwards.
    await expect(kubeRequest(a, { method: 'GET', path: '/missing', timeoutMs: 50 }).catch((e: unknown) => e)).resolves.toBeInstanceOf(KubeApiError);
  });

  it('calls the fence right before sending, and not at all once it throws', async () => {
    const server = await loopback((_req, res) => json(res, 200, {}));
    const a = access(server.url);
    await expect(
      kubeRequest(a, {
        method: 'POST',
        path: '/fenced',
        body: {},
        fence: () => {
          throw new Error('not the leader');
        },
      }),
    ).rejects.toThrow('not the leader');
    expect(server.answered).toEqual([]);
  });

  it('streams watch events line by line and ends with the server', async () => {
    const server = await loopback((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MOD');
      setTimeout(() => res.end('IFIED","object":{"metadata":{"name":"a"}}}\n\n'), 20);
    });
    const a = access(server.url);
    const events: string[] = [];
    let opened = false;
    await streamWatch(a, { path: '/w', query: { watch: 1 }, signal: new AbortController().signal }, (e) => events.push(e.type), () => (opened = true));
    expect(opened).toBe(true);
    expect(events).toEqual(['ADDED', 'MODIFIED']);
    expect(server.answered[0]?.url).toBe('/w?watch=1');
  });

  it('speaks TLS with the CA and a client certificate, and refuses a server it cannot verify', async () => {
    const ca = await createCertificateAuthority('m87-transport-test-ca');
    const serving = await ca.issue({ commonName: 'server', ipAddresses: ['127.0.0.1'], usage: 'server' });
    const client = await ca.issue({ commonName: 'alice', usage: 'client' });
    const server = createTlsServer({ cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      json(res, 200, { cn: (req.socket as TLSSocket).getPeerCertificate().subject.CN });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const good = new KubeAccess(
      staticCredentials({
        source: 'test',
        server: url,
        ca: { field: 'certificate-authority-data', data: b64(ca.certPem) },
        cert: { field: 'client-certificate-data', data: b64(client.certPem) },
        key: { field: 'client-key-data', data: b64(client.keyPem) },
      }),
    );
    accesses.push(good);
    expect(await kubeRequest(good, { method: 'GET', path: '/whoami' })).toEqual({ cn: 'alice' });
    // Without the CA the server's certificate is not trusted: no request goes out.
    const untrusted = new KubeAccess(
      staticCredentials({ source: 'test', server: url, cert: { field: 'c', data: b64(client.certPem) }, key: { field: 'k', data: b64(client.keyPem) } }),
    );
    accesses.push(untrusted);
    await expect(kubeRequest(untrusted, { method: 'GET', path: '/whoami' })).rejects.toBeInstanceOf(KubeTransportError);
  });
});
