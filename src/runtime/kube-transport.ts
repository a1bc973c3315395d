// The runtime's HTTP transport to the API server: Node's built-in node:https / node:http on the KubeAccess's
// keep-alive pool (connection-pool.ts). kube-http.ts builds requests and reads answers on top of it.
//
// A pooled keep-alive socket can be closed by the server (a restart; or its idle timeout, though the pool
// closes idle sockets first) just as a request is written to it; the request then fails with
// ECONNRESET/EPIPE ("socket hang up") before any byte of a response. A reading request (GET, HEAD, OPTIONS)
// is then sent once more on a new connection, and the pool's other idle sockets to that server are dropped
// (they are likely as stale). A write is not: the same failure is what a server killed while it applied the
// request looks like, and replaying a create that was stored answers AlreadyExists to the caller who made it
// (seen in the chaos tier when kube-apiserver was killed mid-burst). The write fails as a transport error and
// its caller's own retry decides, as client-go replays only GETs. Any other failure, or one on a fresh socket,
// fails the request.
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { poolOf } from './connection-pool.ts';
import type { KubeAccess } from './kube-access.ts';

// node:http through process.getBuiltinModule, not an ES import: importing it as an ES module reads every
// export, and its lazy WebSocket/MessageEvent/CloseEvent getters load Node's bundled undici (+13 MiB RSS).
const { request: httpRequest } = process.getBuiltinModule('node:http');

export interface TransportRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | undefined;
  signal: AbortSignal;
  /** Called right before the request (and a stale-socket replay of a read) goes out; throw to cancel. */
  fence?: (() => void) | undefined;
}

/** A request that got no HTTP answer (connection refused, reset, TLS failure); `code` is Node's error code. */
export class KubeTransportError extends Error {
  override name = 'KubeTransportError';
  readonly code: string | undefined;

  constructor(message: string, code: string | undefined, cause: unknown) {
    super(message, { cause });
    this.code = code;
  }
}

/** How many reads were sent again after a stale pooled socket (for tests and diagnostics). */
export const transportStats = { staleRetries: 0 };

const STALE_CODES = new Set(['ECONNRESET', 'EPIPE']);
/** Methods that change nothing on the server, so a request that may have reached it can be sent again. */
const REPLAYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface Attempt {
  response?: IncomingMessage;
  error?: Error;
  /** The request went out on a reused keep-alive socket and failed before any response byte. */
  stale: boolean;
}

function attempt(req: TransportRequest, headers: Record<string, string>, agent: Agent): Promise<Attempt> {
  return new Promise((resolve) => {
    const send = req.url.protocol === 'https:' ? httpsRequest : httpRequest;
    let r: ClientRequest;
    try {
      r = send(req.url, { method: req.method, headers, agent, signal: req.signal });
    } catch (err) {
      resolve({ error: err as Error, stale: false });
      return;
    }
    let answered = false;
    r.on('response', (res) => {
      answered = true;
      resolve({ response: res, stale: false });
    });
    // Stays attached: an error after the response (abort mid-body) surfaces on the response stream.
    r.on('error', (err: NodeJS.ErrnoException) => {
      if (answered) return;
      const stale = r.reusedSocket && STALE_CODES.has(err.code ?? '') && !req.signal.aborted;
      resolve({ error: err, stale });
    });
    r.end(req.body);
  });
}

function dropIdleSockets(agent: Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
}

/** Sends one request and resolves with the response head (the body is for the caller to read). */
export async function send(access: KubeAccess, req: TransportRequest): Promise<IncomingMessage> {
  const auth = await access.credentials.authorize();
  const agent = auth.agent ?? (await poolOf(access).agent());
  const headers: Record<string, string> = { ...req.headers, ...auth.headers };
  if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body));
  for (let n = 1; ; n++) {
    req.signal.throwIfAborted();
    req.fence?.();
    const a = await attempt(req, headers, agent);
    if (a.response) return a.response;
    if (a.stale && n === 1 && REPLAYABLE_METHODS.has(req.method)) {
      transportStats.staleRetries++;
      dropIdleSockets(agent);
      continue;
    }
    // Aborted (timeout, caller): the signal's reason, as fetch did.
    if (req.signal.aborted) throw req.signal.reason;
    const err = a.error as NodeJS.ErrnoException;
    throw new KubeTransportError(`${req.method} ${req.url.pathname}: ${err.message}`, err.code, err);
  }
}

/** The whole body as text (utf-8). */
export async function readText(res: IncomingMessage, signal?: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res) chunks.push(chunk as Buffer);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
  return Buffer.concat(chunks).toString('utf8');
}
