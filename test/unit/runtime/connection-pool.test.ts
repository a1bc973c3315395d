import { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { closeConnections, hasConnectionPool, shareConnections, withOwnConnections } from '../../../src/runtime/connection-pool.ts';

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function authenticated(kc: KubeConfig): Promise<RequestContext> {
  const ctx = new RequestContext('https://127.0.0.1:1/api', 'GET');
  await kc.applySecurityAuthentication(ctx);
  return ctx;
}

describe('connection pool (one per KubeConfig)', () => {
  it('hands every request of one KubeConfig the same dispatcher, keeping authentication', async () => {
    const kc = kubeConfig();
    const a = await authenticated(kc);
    const b = await authenticated(kc);
    // client-node builds a new Agent per call (a TLS handshake per request without the pool).
    expect(b.getDispatcher()).not.toBe(a.getDispatcher());
    shareConnections(kc, a);
    shareConnections(kc, b);
    shareConnections(kc, b); // idempotent
    expect(a.getDispatcher()).toBeDefined();
    expect(b.getDispatcher()).toBe(a.getDispatcher());
    expect(b.getHeaders().Authorization).toBe('Bearer secret-token');
    expect(hasConnectionPool(kc)).toBe(true);
    await closeConnections(kc);
    expect(hasConnectionPool(kc)).toBe(false);
    // A request after close opens a new pool.
    const c = await authenticated(kc);
    shareConnections(kc, c);
    expect(c.getDispatcher()).not.toBe(a.getDispatcher());
    await closeConnections(kc);
  });

  it('a view with its own connections shares nothing with the KubeConfig it delegates to, and closes alone', async () => {
    const kc = kubeConfig();
    const own = withOwnConnections(kc);
    const base = await authenticated(kc);
    shareConnections(kc, base);
    const a = await authenticated(own);
    const b = await authenticated(own);
    expect(b.getDispatcher()).toBe(a.getDispatcher());
    expect(a.getDispatcher()).not.toBe(base.getDispatcher());
    expect(own.getCurrentCluster()?.server).toBe('https://127.0.0.1:1');
    await own.closePool();
    expect(hasConnectionPool(own)).toBe(false);
    expect(hasConnectionPool(kc)).toBe(true);
    await closeConnections(kc);
  });
});
