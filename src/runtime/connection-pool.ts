// One keep-alive connection pool (a node:https or node:http Agent) per KubeAccess object, for every request
// the runtime makes (informers, writes, leader election, events, the CLI and the client library all go through
// kube-http.ts). Without a pool every request would open a new TLS connection: a full handshake on both
// sides, per request (measured with the earlier undici stack: 4.8 ms CPU per GET instead of 1.4 ms).
//
// The pool's TLS material is read again every RENEW_AFTER_MS; when it changed (a rotated client certificate)
// a new Agent serves new requests and the old one is destroyed once its longest possible request (a watch,
// at most ~10 minutes) is over.
//
// Keyed by object identity. withOwnConnections(client) gives a view with a pool of its own (e.g. leader
// election, so a Lease renew never queues behind bulk traffic) that can be closed on shutdown without
// touching anyone else's connections.
import type { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { accessOf, KubeAccess, type KubeClient, type TlsMaterial } from './kube-access.ts';

// node:http through process.getBuiltinModule, not an ES import: importing it as an ES module reads every
// export, and its lazy WebSocket/MessageEvent/CloseEvent getters load Node's bundled undici (+13 MiB RSS).
const { Agent: HttpAgentClass } = process.getBuiltinModule('node:http');

const RENEW_AFTER_MS = 5 * 60_000;
const RETIRED_CLOSE_AFTER_MS = 15 * 60_000;
/** TCP keep-alive probes on idle pooled sockets (as client-go: 30 s). */
const KEEPALIVE_INITIAL_DELAY_MS = 30_000;
/**
 * A pooled socket idle this long is closed by us. kube-apiserver closes connections idle for 90 s; a request
 * written to a socket at the instant the server closes it fails before any answer, and a write cannot be sent
 * again safely (kube-transport.ts). Closing first leaves that race to sockets the server closed for other
 * reasons (a restart). 60 s also stays under the idle timeouts of common load balancers in front of it.
 */
export const IDLE_SOCKET_CLOSE_MS = 60_000;

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  const eq = (x: Buffer | undefined, y: Buffer | undefined): boolean => (x === undefined ? y === undefined : y !== undefined && x.equals(y));
  return eq(a.ca, b.ca) && eq(a.cert, b.cert) && eq(a.key, b.key) && a.rejectUnauthorized === b.rejectUnauthorized && a.servername === b.servername;
}

export class ConnectionPool {
  readonly #access: KubeAccess;
  #agent: HttpAgent | undefined;
  #material: TlsMaterial | undefined;
  #checkedAt = 0;
  #renewing: Promise<HttpAgent> | undefined;
  readonly #retired = new Set<HttpAgent>();
  #closed = false;

  constructor(access: KubeAccess) {
    this.#access = access;
  }

  /** The Agent for the next request (created on first use; renewed when the TLS material changed). */
  agent(): HttpAgent | Promise<HttpAgent> {
    if (this.#closed) throw new Error(`connection pool of ${this.#access.source} is closed`);
    if (this.#agent !== undefined && performance.now() - this.#checkedAt < RENEW_AFTER_MS) return this.#agent;
    this.#renewing ??= this.#renew().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  async #renew(): Promise<HttpAgent> {
    const material = await this.#access.credentials.tls();
    this.#checkedAt = performance.now();
    if (this.#agent !== undefined && this.#material !== undefined && sameMaterial(this.#material, material)) return this.#agent;
    const old = this.#agent;
    const https = this.#access.server.startsWith('https:');
    const options = { keepAlive: true, keepAliveMsecs: KEEPALIVE_INITIAL_DELAY_MS, scheduling: 'lifo' as const };
    this.#agent = closeIdleSockets(https ? new HttpsAgent({ ...options, ...definedOnly(material) }) : new HttpAgentClass(options), IDLE_SOCKET_CLOSE_MS);
    this.#material = material;
    if (old !== undefined) {
      // Requests in flight (long watches) finish on the old Agent; it is destroyed later.
      this.#retired.add(old);
      setTimeout(() => {
        this.#retired.delete(old);
        old.destroy();
      }, RETIRED_CLOSE_AFTER_MS).unref();
    }
    return this.#agent;
  }

  /** Destroys every socket of this pool; a request after close fails. */
  close(): void {
    this.#closed = true;
    for (const agent of [...this.#retired, ...(this.#agent ? [this.#agent] : [])]) agent.destroy();
    this.#retired.clear();
    this.#agent = undefined;
  }
}

/**
 * Makes agent close a pooled socket once it has been idle (free) for idleMs; a socket in use has no timeout
 * (a watch may be quiet for minutes). Node's own `timeout` option would also arm the timer on sockets in use.
 */
export function closeIdleSockets<A extends HttpAgent>(agent: A, idleMs: number): A {
  const keepSocketAlive = agent.keepSocketAlive.bind(agent) as (socket: Duplex) => boolean;
  const reuseSocket = agent.reuseSocket.bind(agent);
  // Node's Agent destroys a free socket when it times out (it listens for 'timeout' on every socket it made).
  agent.keepSocketAlive = (socket: Duplex): boolean => {
    const keep = keepSocketAlive(socket);
    if (keep && socket instanceof Socket) socket.setTimeout(idleMs);
    return keep;
  };
  agent.reuseSocket = (socket, request) => {
    if (socket instanceof Socket) socket.setTimeout(0);
    reuseSocket(socket, request);
  };
  return agent;
}

function definedOnly(material: TlsMaterial): Record<string, unknown> {
  return Object.fromEntries(Object.entries(material).filter(([, v]) => v !== undefined));
}

const pools = new WeakMap<KubeAccess, ConnectionPool>();

/** The pool of client's KubeAccess (created on first use). */
export function poolOf(access: KubeAccess): ConnectionPool {
  let pool = pools.get(access);
  if (pool === undefined) {
    pool = new ConnectionPool(access);
    pools.set(access, pool);
  }
  return pool;
}

/** Whether client has an open pool (for tests and diagnostics). */
export function hasConnectionPool(client: KubeClient): boolean {
  return pools.has(accessOf(client));
}

/** Closes client's pool; a later request opens a new one. */
export function closeConnections(client: KubeClient): Promise<void> {
  const access = accessOf(client);
  const pool = pools.get(access);
  if (pool !== undefined) {
    pools.delete(access);
    pool.close();
  }
  return Promise.resolve();
}

export interface OwnConnections {
  /** Closes this view's connections (call on shutdown). */
  closePool(): Promise<void>;
}

/** A client-node KubeConfig with a pool of its own (dev/ and tests hand these to the runtime). */
export type PooledKubeConfig = KubeConfig & OwnConnections;

/**
 * A view of client (same server and credentials) with a connection pool of its own. A KubeAccess gives a new
 * KubeAccess; a client-node KubeConfig gives a KubeConfig view of it (everything delegates to it) that the
 * runtime pools separately.
 */
export function withOwnConnections<T extends KubeClient>(client: T): T & OwnConnections {
  const view = (client instanceof KubeAccess ? new KubeAccess(client.credentials) : Object.create(client)) as T & OwnConnections;
  view.closePool = () => closeConnections(view);
  return view;
}
