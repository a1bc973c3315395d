// One keep-alive connection pool per KubeConfig, for every request the runtime makes (informers, writes,
// leader election, events, the CLI and the client library all go through kube-http.ts).
// @kubernetes/client-node (2.0.1) builds a new undici Agent in every applySecurityAuthentication call, so
// without this every request opens a new TLS connection: a full handshake on both sides, per request. At
// hundreds of requests per second that handshake, not the work, dominates CPU (measured: 4.8 ms CPU per GET
// instead of 1.4 ms). The shared Agent is renewed periodically so rotated client credentials are picked up;
// the old one keeps serving what is in flight (long watches) and is closed later.
//
// Keyed by KubeConfig object identity. withOwnConnections(kc) gives a view of kc with a pool of its own
// (e.g. leader election, so a Lease renew never shares connections with bulk traffic) that can be closed
// on shutdown without touching anyone else's connections.
import type { KubeConfig, RequestContext } from '@kubernetes/client-node';

interface Closable {
  close?: () => Promise<void>;
  destroy?: () => Promise<void>;
}

type Dispatcher = Parameters<RequestContext['setDispatcher']>[0];

interface Pool {
  dispatcher: Dispatcher;
  createdAt: number;
  retired: Set<Closable>;
}

const RENEW_AFTER_MS = 5 * 60_000;
const RETIRED_CLOSE_AFTER_MS = 15 * 60_000;

const pools = new WeakMap<KubeConfig, Pool>();
/** Dispatchers handed out by a pool: an authenticated context that already carries one is left alone. */
const pooled = new WeakSet<object>();

/**
 * Gives ctx (already authenticated with kc) kc's shared dispatcher instead of the fresh one client-node
 * just built. Idempotent. Plain HTTP without TLS options has no dispatcher: nothing to pool.
 */
export function shareConnections(kc: KubeConfig, ctx: RequestContext): void {
  const fresh = ctx.getDispatcher();
  if (fresh === undefined || pooled.has(fresh)) return;
  const now = performance.now();
  let pool = pools.get(kc);
  if (pool !== undefined && now - pool.createdAt > RENEW_AFTER_MS) {
    // Let requests in flight (and long watches) finish on the old pool; close it gracefully later.
    const old = pool.dispatcher as Closable;
    const retired = pool.retired;
    retired.add(old);
    setTimeout(() => {
      retired.delete(old);
      void old.close?.().catch(() => undefined);
    }, RETIRED_CLOSE_AFTER_MS).unref();
    pool = { dispatcher: fresh, createdAt: now, retired };
    pools.set(kc, pool);
    pooled.add(fresh);
    return;
  }
  if (pool === undefined) {
    pools.set(kc, { dispatcher: fresh, createdAt: now, retired: new Set() });
    pooled.add(fresh);
    return;
  }
  ctx.setDispatcher(pool.dispatcher);
}

/** Whether kc has an open pool (for tests and diagnostics). */
export function hasConnectionPool(kc: KubeConfig): boolean {
  return pools.has(kc);
}

/** Closes kc's pool (graceful, then forced after 5 s); a later request opens a new one. */
export async function closeConnections(kc: KubeConfig): Promise<void> {
  const pool = pools.get(kc);
  if (pool === undefined) return;
  pools.delete(kc);
  const all = [...pool.retired, pool.dispatcher as Closable];
  pool.retired.clear();
  await Promise.all(
    all.map(async (d) => {
      const closed = await Promise.race([
        (d.close?.() ?? Promise.resolve()).then(
          () => true,
          () => false,
        ),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000).unref()),
      ]);
      if (!closed) await destroyQuietly(d);
    }),
  );
}

export interface PooledKubeConfig extends KubeConfig {
  /** Closes this view's connections (call on shutdown). */
  closePool(): Promise<void>;
}

/**
 * A view of kc (same clusters, users, context; everything delegates to kc) with a connection pool of its
 * own. Callers outside kube-http.ts (client-node's generated APIs) are pooled too.
 */
export function withOwnConnections(kc: KubeConfig): PooledKubeConfig {
  const view = Object.create(kc) as PooledKubeConfig;
  view.applySecurityAuthentication = async (ctx: RequestContext): Promise<void> => {
    await kc.applySecurityAuthentication(ctx);
    shareConnections(view, ctx);
  };
  view.closePool = () => closeConnections(view);
  return view;
}

/**
 * Destroying a pool whose HTTP/2 streams are still open (long watches) makes undici emit
 * ClientDestroyedError on streams that may have no listener left, which would turn an orderly shutdown into
 * a crash (exit 1). Only during this deliberate destroy, and only that error, is expected; anything else
 * still ends the process as an uncaught exception would.
 */
async function destroyQuietly(d: Closable): Promise<void> {
  const onUncaught = (err: unknown): void => {
    if ((err as { code?: unknown } | null)?.code === 'UND_ERR_DESTROYED') return;
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', onUncaught);
  try {
    await d.destroy?.().catch(() => undefined);
    // Stream errors are emitted asynchronously after destroy resolves.
    await new Promise((resolve) => setTimeout(resolve, 250));
  } finally {
    process.off('uncaughtException', onUncaught);
  }
}
