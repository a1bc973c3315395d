import { randomBytes, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import { connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { EgressRule } from '../api/envelope.ts';
import type { RefusalCode } from './codes.ts';

// node:http through process.getBuiltinModule, not an ES import: importing it as an ES module reads every
// export, and its lazy WebSocket/MessageEvent/CloseEvent getters load Node's bundled undici (+13 MiB RSS).
const { createServer, request: httpRequest } = process.getBuiltinModule('node:http');

/**
 * The runner's egress gate: an HTTP forward proxy on 127.0.0.1 (random port) that every tool must use.
 * Plain HTTP is proxied from absolute-form requests, HTTPS through CONNECT. A request is forwarded only when
 * it carries a live lease token (Proxy-Authorization), its host:port is in the envelope's egress allowlist,
 * the resolved address is not forbidden (link-local/metadata, unspecified, the API server) and the budget
 * grants one more external I/O. Everything else gets 403 (407 without a token) and is recorded. The gate
 * connects to nothing but allowlisted destinations. NetworkPolicy stays the kernel-level backstop.
 */

/** Header on every response the gate itself produces, carrying the reason code. */
export const GATE_HEADER = 'x-m87-egress';
const PROXY_USER = 'm87';
const MAX_RECORDS = 64;
const UPSTREAM_TIMEOUT_MS = 30_000;
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export type ExternalIOGrant = 'ok' | 'BUDGET_EXTERNAL_IO_EXCEEDED' | 'BUDGET_RUNTIME_EXCEEDED';

export interface EgressGateOptions {
  allow: readonly EgressRule[];
  /** Try-then-consume: called once per request that passed every other check. */
  takeExternalIO: () => ExternalIOGrant;
  /** Destinations never contacted even if allowlisted (the API server's address). */
  forbidden?: readonly { host: string; port: number }[];
  /** Name resolution (default: the system resolver); tests may inject one. */
  resolve?: (host: string) => Promise<string[]>;
}

export interface EgressRecord {
  method: string;
  host: string;
  port: number;
  allowed: boolean;
  code?: RefusalCode | 'EGRESS_UPSTREAM_FAILED';
}

export interface EgressLease {
  /** Proxy URL with credentials, for HTTP_PROXY/HTTPS_PROXY of a child process. */
  proxyUrl: string;
  /** Value of the Proxy-Authorization header, for in-process requests. */
  authorization: string;
  host: string;
  port: number;
  release(): void;
}

function normaliseHost(host: string): string {
  const h = host.toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function ipv4Parts(addr: string): number[] | undefined {
  if (isIP(addr) !== 4) return undefined;
  return addr.split('.').map(Number);
}

/** Link-local (cloud metadata lives at 169.254.169.254), unspecified and multicast addresses are never contacted. */
export function isForbiddenAddress(addr: string): boolean {
  const a = addr.toLowerCase();
  const mapped = a.startsWith('::ffff:') ? a.slice(7) : a;
  const v4 = ipv4Parts(mapped);
  if (v4 !== undefined) {
    const [x, y] = v4 as [number, number, number, number];
    return (x === 169 && y === 254) || x === 0 || (x >= 224 && x <= 239) || x === 255;
  }
  if (isIP(a) === 6) return a === '::' || /^fe[89ab]/.test(a) || a.startsWith('ff');
  return true; // not an IP address at all: refuse rather than guess
}

function parseAuthority(authority: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: normaliseHost(m[1]!), port };
}

function forwardHeaders(headers: IncomingHttpHeaders, host: string): OutgoingHttpHeaders {
  const listed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k) || k === 'host') continue;
    out[k] = v;
  }
  out.host = host;
  return out;
}

export class EgressGate {
  readonly host = '127.0.0.1';
  private readonly server: Server;
  private readonly opts: EgressGateOptions;
  private readonly allow: ReadonlySet<string>;
  private readonly tokens = new Set<string>();
  private readonly sockets = new Set<Duplex>();
  private readonly recordList: EgressRecord[] = [];
  private allowedCount = 0;
  private refusedCount = 0;
  private listenPort = 0;

  private constructor(opts: EgressGateOptions) {
    this.opts = opts;
    this.allow = new Set(opts.allow.map((r) => `${normaliseHost(r.host)}:${r.port}`));
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.onConnect(req, socket, head));
    this.server.on('connection', (s: Socket) => this.track(s));
  }

  static async start(opts: EgressGateOptions): Promise<EgressGate> {
    const gate = new EgressGate(opts);
    await new Promise<void>((resolve, reject) => {
      gate.server.once('error', reject);
      gate.server.listen(0, '127.0.0.1', () => {
        gate.server.off('error', reject);
        resolve();
      });
    });
    const addr = gate.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('egress gate has no TCP address');
    gate.listenPort = addr.port;
    return gate;
  }

  get port(): number {
    return this.listenPort;
  }

  /** A token valid until released; hand it only to a step whose tool the manifest marks as networked. */
  lease(): EgressLease {
    const token = randomBytes(24).toString('hex');
    this.tokens.add(token);
    return {
      proxyUrl: `http://${PROXY_USER}:${token}@${this.host}:${this.port}`,
      authorization: 'Basic ' + Buffer.from(`${PROXY_USER}:${token}`).toString('base64'),
      host: this.host,
      port: this.port,
      release: () => {
        this.tokens.delete(token);
      },
    };
  }

  get records(): readonly EgressRecord[] {
    return this.recordList;
  }

  get stats(): { allowed: number; refused: number } {
    return { allowed: this.allowedCount, refused: this.refusedCount };
  }

  async close(): Promise<void> {
    this.tokens.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(s: Duplex): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private record(r: EgressRecord): void {
    if (r.allowed) this.allowedCount++;
    else if (r.code !== 'EGRESS_UPSTREAM_FAILED') this.refusedCount++;
    if (this.recordList.length < MAX_RECORDS) this.recordList.push(r);
  }

  private authorized(header: string | undefined): boolean {
    if (header === undefined) return false;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
    if (!m) return false;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    if (!decoded.startsWith(PROXY_USER + ':')) return false;
    const given = Buffer.from(decoded.slice(PROXY_USER.length + 1));
    for (const t of this.tokens) {
      const want = Buffer.from(t);
      if (want.length === given.length && timingSafeEqual(want, given)) return true;
    }
    return false;
  }

  /** Every check but the connection itself; returns the address to connect to, or the refusal. */
  private async admit(host: string, port: number): Promise<{ address: string } | { code: RefusalCode; message: string }> {
    if (!this.allow.has(`${host}:${port}`)) return { code: 'EGRESS_HOST_NOT_ALLOWED', message: `${host}:${port} is not in the egress allowlist` };
    let addresses: string[];
    try {
      addresses = isIP(host) !== 0 ? [host] : await (this.opts.resolve ?? defaultResolve)(host);
    } catch (e) {
      return { code: 'EGRESS_ADDRESS_FORBIDDEN', message: `${host} does not resolve: ${(e as Error).message}` };
    }
    const forbidden = this.opts.forbidden ?? [];
    const address = addresses.find((a) => !isForbiddenAddress(a) && !forbidden.some((f) => normaliseHost(f.host) === normaliseHost(a) && f.port === port));
    if (address === undefined) return { code: 'EGRESS_ADDRESS_FORBIDDEN', message: `${host}:${port} resolves only to forbidden addresses` };
    const grant = this.opts.takeExternalIO();
    if (grant !== 'ok') return { code: grant, message: grant === 'BUDGET_EXTERNAL_IO_EXCEEDED' ? 'maxExternalIO reached' : 'maxRuntimeSeconds exhausted' };
    return { address };
  }

  private refuseHttp(res: ServerResponse, status: number, code: string, message: string): void {
    const headers: OutgoingHttpHeaders = { [GATE_HEADER]: code, 'content-type': 'text/plain; charset=utf-8', connection: 'close' };
    if (status === 407) headers['proxy-authenticate'] = 'Basic realm="m87-egress"';
    res.writeHead(status, headers);
    res.end(`m87 egress gate: ${code}: ${message}\n`);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '');
    } catch {
      url = undefined;
    }
    if (url === undefined || url.protocol !== 'http:' || url.username !== '' || url.password !== '') {
      this.record({ method, host: '', port: 0, allowed: false, code: 'EGRESS_BAD_REQUEST' });
      this.refuseHttp(res, 400, 'EGRESS_BAD_REQUEST', 'only absolute-form http:// requests (or CONNECT) are proxied');
      return;
    }
    const host = normaliseHost(url.hostname);
    const port = url.port === '' ? 80 : Number(url.port);
    if (!this.authorized(req.headers['proxy-authorization'])) {
      this.record({ method, host, port, allowed: false, code: 'EGRESS_PROXY_AUTH_REQUIRED' });
      this.refuseHttp(res, 407, 'EGRESS_PROXY_AUTH_REQUIRED', 'no valid egress lease');
      return;
    }
    const verdict = await this.admit(host, port);
    if ('code' in verdict) {
      this.record({ method, host, port, allowed: false, code: verdict.code });
      this.refuseHttp(res, 403, verdict.code, verdict.message);
      return;
    }
    this.record({ method, host, port, allowed: true });
    const upstream = httpRequest({
      host: verdict.address,
      port,
      method,
      path: url.pathname + url.search,
      headers: forwardHeaders(req.headers, url.host),
      setHost: false,
      timeout: UPSTREAM_TIMEOUT_MS,
    });
    upstream.on('socket', (s) => this.track(s));
    upstream.on('response', (up) => {
      const headers: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      res.writeHead(up.statusCode ?? 502, headers);
      up.pipe(res);
    });
    const fail = (message: string) => {
      this.record({ method, host, port, allowed: false, code: 'EGRESS_UPSTREAM_FAILED' });
      if (!res.headersSent) this.refuseHttp(res, 502, 'EGRESS_UPSTREAM_FAILED', message);
      else res.destroy();
    };
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timed out')));
    upstream.on('error', (e) => fail(e.message));
    req.pipe(upstream);
  }

  private async onConnect(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    this.track(client);
    client.on('error', () => client.destroy());
    const refuse = (status: number, code: string, message: string) => {
      const extra = status === 407 ? 'Proxy-Authenticate: Basic realm="m87-egress"\r\n' : '';
      const body = `m87 egress gate: ${code}: ${message}\n`;
      client.end(
        `HTTP/1.1 ${status} ${status === 407 ? 'Proxy Authentication Required' : status === 400 ? 'Bad Request' : status === 502 ? 'Bad Gateway' : 'Forbidden'}\r\n` +
          `${GATE_HEADER}: ${code}\r\n${extra}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    const target = parseAuthority(req.url ?? '', 0);
    if (target === undefined || target.port === 0) {
      this.record({ method: 'CONNECT', host: '', port: 0, allowed: false, code: 'EGRESS_BAD_REQUEST' });
      refuse(400, 'EGRESS_BAD_REQUEST', 'CONNECT needs host:port');
      return;
    }
    const { host, port } = target;
    if (!this.authorized(req.headers['proxy-authorization'])) {
      this.record({ method: 'CONNECT', host, port, allowed: false, code: 'EGRESS_PROXY_AUTH_REQUIRED' });
      refuse(407, 'EGRESS_PROXY_AUTH_REQUIRED', 'no valid egress lease');
      return;
    }
    const verdict = await this.admit(host, port);
    if ('code' in verdict) {
      this.record({ method: 'CONNECT', host, port, allowed: false, code: verdict.code });
      refuse(403, verdict.code, verdict.message);
      return;
    }
    this.record({ method: 'CONNECT', host, port, allowed: true });
    const upstream = connect({ host: verdict.address, port });
    this.track(upstream);
    let established = false;
    upstream.setTimeout(UPSTREAM_TIMEOUT_MS, () => upstream.destroy(new Error('upstream timed out')));
    upstream.once('connect', () => {
      established = true;
      upstream.setTimeout(0);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (e) => {
      if (established) {
        client.destroy();
        return;
      }
      this.record({ method: 'CONNECT', host, port, allowed: false, code: 'EGRESS_UPSTREAM_FAILED' });
      refuse(502, 'EGRESS_UPSTREAM_FAILED', e.message);
    });
    client.on('close', () => upstream.destroy());
  }
}

async function defaultResolve(host: string): Promise<string[]> {
  const all = await lookup(host, { all: true, verbatim: true });
  return all.map((a) => a.address);
}
