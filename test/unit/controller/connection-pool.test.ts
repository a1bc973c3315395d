import { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { withConnectionReuse } from '../../../src/controller/connection-pool.ts';

describe('connection reuse', () => {
  it('hands every request the same dispatcher (one keep-alive pool), keeping authentication', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u', token: 'secret-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const pooled = withConnectionReuse(kc);
    const a = new RequestContext('https://127.0.0.1:1/api', 'GET');
    const b = new RequestContext('https://127.0.0.1:1/api', 'GET');
    await pooled.applySecurityAuthentication(a);
    await pooled.applySecurityAuthentication(b);
    expect(a.getDispatcher()).toBeDefined();
    expect(b.getDispatcher()).toBe(a.getDispatcher());
    expect(b.getHeaders().Authorization).toBe('Bearer secret-token');
    expect(pooled.getCurrentCluster()?.server).toBe('https://127.0.0.1:1');
    await pooled.closePool();
  });
});
