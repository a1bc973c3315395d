// @kubernetes/client-node (2.0.1) builds a new undici Agent in every applySecurityAuthentication call, so
// every request opens a new TLS connection: a full handshake on both sides, per request. At hundreds of
// requests per second that handshake, not the work, dominates CPU (measured: most of the controller's
// time went to TLS setup). This wraps a KubeConfig so its requests share one Agent (keep-alive pool),
// renewed periodically so rotated client credentials are picked up.
import type { KubeConfig, RequestContext } from '@kubernetes/client-node';

interface Closable {
  close?: () => Promise<void>;
  destroy?: () => Promise<void>;
}

const RENEW_AFTER_MS = 5 * 60_000;

export interface PooledKubeConfig extends KubeConfig {
  /** Closes the shared connections (call on shutdown). */
  closePool(): Promise<void>;
}

export function withConnectionReuse(kc: KubeConfig): PooledKubeConfig {
  // Delegate everything to the original instance; only authentication is intercepted.
  const pooled = Object.create(kc) as PooledKubeConfig;
  let shared: { dispatcher: unknown; createdAt: number } | undefined;
  const retired = new Set<Closable>();
  pooled.applySecurityAuthentication = async (ctx: RequestContext): Promise<void> => {
    await kc.applySecurityAuthentication(ctx);
    const fresh = ctx.getDispatcher();
    if (fresh === undefined) return; // plain HTTP without TLS options: nothing to pool
    const now = performance.now();
    if (shared === undefined || now - shared.createdAt > RENEW_AFTER_MS) {
      if (shared !== undefined) {
        // Let requests in flight (and long watches) finish on the old pool; close it gracefully later.
        const old = shared.dispatcher as Closable;
        retired.add(old);
        setTimeout(() => {
          retired.delete(old);
          void old.close?.().catch(() => undefined);
        }, 15 * 60_000).unref();
      }
      shared = { dispatcher: fresh, createdAt: now };
      return;
    }
    ctx.setDispatcher(shared.dispatcher as Parameters<RequestContext['setDispatcher']>[0]);
  };
  pooled.closePool = async (): Promise<void> => {
    const all = [...retired, ...(shared ? [shared.dispatcher as Closable] : [])];
    shared = undefined;
    retired.clear();
    // Graceful first (requests still in flight finish), then force whatever is left.
    await Promise.all(
      all.map(async (d) => {
        const closed = await Promise.race([
          (d.close?.() ?? Promise.resolve()).then(() => true, () => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000).unref()),
        ]);
        if (!closed) await destroyQuietly(d);
      }),
    );
  };
  return pooled;
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
