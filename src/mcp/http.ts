// Streamable HTTP for `m87 mcp --http`: loopback only unless explicitly forced, and a bearer token unless
// explicitly waived, because whoever reaches the port acts with the agent's credentials. Stateless: each POST
// gets its own server and transport (the credentials and the identity are the process's, shared by all).
// Host headers are checked (DNS rebinding).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { allowedHosts as loopbackHosts, hostPort, isLoopback, sameToken } from '../client/loopback.ts';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AgentSession } from './agent-session.ts';
import { createMcpServer } from './server.ts';
import { bearerToken } from './token.ts';

// node:http through process.getBuiltinModule, not an ES import: importing it as an ES module reads every
// export, and its lazy WebSocket/MessageEvent/CloseEvent getters load Node's bundled undici (+13 MiB RSS).
const { createServer } = process.getBuiltinModule('node:http');

export const MCP_PATH = '/mcp';
/** Largest request body: a maximal proposal plus the JSON-RPC envelope. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpOptions {
  host: string;
  port: number;
  /** Listen on a non-loopback address anyway (then anyone who reaches it acts as the agent). */
  allowNonLoopback?: boolean;
  /**
   * The token every request must carry as `Authorization: Bearer <token>`; null: none (`--no-auth`, for a Pod
   * whose loopback only its own containers share). Required, so that no caller forgets it by omission.
   */
  token: string | null;
}

export interface HttpHandle {
  url: string;
  close(): Promise<void>;
}

function reply(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message }, id: null }));
}

async function readBody(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; status: number; message: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return { ok: false, status: 413, message: `request body larger than ${MAX_BODY_BYTES} bytes` };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { ok: false, status: 400, message: 'request body is not JSON' };
  }
}

export async function serveHttp(session: AgentSession, opts: HttpOptions): Promise<HttpHandle> {
  if (!isLoopback(opts.host) && opts.allowNonLoopback !== true) {
    throw new Error(`refusing to listen on ${opts.host}: not a loopback address, and whoever reaches the port acts with the agent's credentials (pass --allow-non-loopback to force)`);
  }
  if (!isLoopback(opts.host) && opts.token === null) {
    throw new Error(`refusing to listen on ${opts.host} without a token: anyone on the network would act with the agent's credentials (--no-auth is for loopback only; use --token-file)`);
  }
  let allowedHosts: string[] = [];
  const http = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== MCP_PATH) return reply(res, 404, `not found: the MCP endpoint is ${MCP_PATH}`);
      if (opts.token !== null && !sameToken(bearerToken(req.headers.authorization), opts.token)) {
        // The body is never read: an unauthenticated caller gets nothing parsed, nothing sent to Kubernetes.
        return reply(res, 401, 'unauthorized: send Authorization: Bearer <the token in m87 mcp --token-file>', { 'www-authenticate': 'Bearer realm="m87 mcp"' });
      }
      if (req.method !== 'POST') return reply(res, 405, 'stateless server: POST JSON-RPC messages');
      const body = await readBody(req);
      if (!body.ok) return reply(res, body.status, body.message);
      const server = createMcpServer(session);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableDnsRebindingProtection: true, allowedHosts });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body.value);
    })().catch((err: unknown) => {
      if (!res.headersSent) reply(res, 500, err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => resolve());
  });
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  allowedHosts = [...loopbackHosts(opts.host, port)];
  return {
    url: `http://${hostPort(opts.host, port)}${MCP_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
