import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { REASON_CODES, type ReasonCode } from './codes.ts';
import { GATE_HEADER, type EgressLease } from './egress-gate.ts';
import type { OutputCapture } from './output.ts';

/**
 * In-process HTTP(S) through the egress gate: plain HTTP as an absolute-form request to the gate, HTTPS as a
 * CONNECT tunnel through it with TLS end to end. The tool never opens a socket to anything but the gate.
 * Redirects are not followed. The response body goes into the step's capped output.
 */
export interface GatedRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers?: OutgoingHttpHeaders;
  body?: Buffer;
  timeoutMs: number;
  output: OutputCapture;
}

export interface GatedResponse {
  status: number;
  /** Set when the gate itself answered (refusal or upstream failure). */
  gateCode?: ReasonCode;
}

const KNOWN: ReadonlySet<string> = new Set(REASON_CODES);

function gateCodeOf(headers: IncomingMessage['headers']): ReasonCode | undefined {
  const v = headers[GATE_HEADER];
  const code = Array.isArray(v) ? v[0] : v;
  return code !== undefined && KNOWN.has(code) ? (code as ReasonCode) : undefined;
}

function readBody(res: IncomingMessage, output: OutputCapture): Promise<void> {
  return new Promise((resolve, reject) => {
    res.on('data', (chunk: Buffer) => {
      output.write(chunk);
      if (output.truncated) res.destroy(); // the cap is reached: stop downloading
    });
    res.on('end', () => resolve());
    res.on('close', () => resolve());
    res.on('error', (e) => (output.truncated ? resolve() : reject(e)));
  });
}

function hostHeader(url: URL): string {
  return url.host;
}

export async function gatedRequest(lease: EgressLease, r: GatedRequest): Promise<GatedResponse> {
  const signal = AbortSignal.timeout(Math.max(1, Math.floor(r.timeoutMs)));
  const headers: OutgoingHttpHeaders = { ...r.headers, host: hostHeader(r.url) };
  if (r.body !== undefined) headers['content-length'] = r.body.length;

  if (r.url.protocol === 'http:') {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({
        host: lease.host,
        port: lease.port,
        method: r.method,
        path: r.url.href,
        headers: { ...headers, 'proxy-authorization': lease.authorization },
        setHost: false,
        agent: false,
        signal,
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.end(r.body);
    });
    const gateCode = gateCodeOf(res.headers);
    await readBody(res, r.output);
    return gateCode === undefined ? { status: res.statusCode ?? 0 } : { status: res.statusCode ?? 0, gateCode };
  }

  if (r.url.protocol !== 'https:') throw new Error(`unsupported URL scheme ${r.url.protocol}`);
  const hostname = r.url.hostname.startsWith('[') ? r.url.hostname.slice(1, -1) : r.url.hostname;
  const port = r.url.port === '' ? 443 : Number(r.url.port);
  const authority = `${isIP(hostname) === 6 ? `[${hostname}]` : hostname}:${port}`;
  const tunnel = await new Promise<{ res: IncomingMessage; socket: Socket }>((resolve, reject) => {
    const req = httpRequest({
      host: lease.host,
      port: lease.port,
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, 'proxy-authorization': lease.authorization },
      agent: false,
      signal,
    });
    req.on('connect', (res, socket) => resolve({ res, socket }));
    req.on('response', (res) => resolve({ res, socket: res.socket }));
    req.on('error', reject);
    req.end();
  });
  if (tunnel.res.statusCode !== 200) {
    const gateCode = gateCodeOf(tunnel.res.headers);
    tunnel.socket.destroy();
    return gateCode === undefined ? { status: tunnel.res.statusCode ?? 0 } : { status: tunnel.res.statusCode ?? 0, gateCode };
  }
  const tls = tlsConnect({ socket: tunnel.socket, ...(isIP(hostname) === 0 ? { servername: hostname } : {}) });
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpsRequest({
      host: hostname,
      port,
      method: r.method,
      path: r.url.pathname + r.url.search,
      headers,
      setHost: false,
      createConnection: () => tls,
      signal,
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end(r.body);
  });
  await readBody(res, r.output);
  tls.destroy();
  return { status: res.statusCode ?? 0 };
}
