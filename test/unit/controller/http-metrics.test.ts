import { afterAll, describe, expect, it } from 'vitest';
import { parseListenAddress, startHttpServer } from '../../../src/controller/http-server.ts';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';
import { DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';

describe('listen address', () => {
  it('parses host:port, [v6]:port and :port', () => {
    expect(parseListenAddress('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListenAddress('[::1]:9090')).toEqual({ host: '::1', port: 9090 });
    expect(parseListenAddress(':0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(() => parseListenAddress('8080')).toThrow(/--metrics-addr/);
    expect(() => parseListenAddress('x:99999')).toThrow(/out of range/);
  });
});

describe('metrics and endpoints', () => {
  let leader = false;
  let ready = false;
  const metrics = new ControllerMetrics({ isLeader: () => leader });
  metrics.initPolicyLabels(DEFAULT_POLICY_SPEC);
  metrics.setPolicyValid(() => true);
  const server = startHttpServer({
    registry: metrics.registry,
    readiness: () => ({ ready, reasons: ready ? [] : ['cache proposals not synced'] }),
    listen: { host: '127.0.0.1', port: 0 },
  });
  afterAll(async () => (await server).close());
  const url = async (path: string) => {
    const { address } = await server;
    return `http://${address.host}:${address.port}${path}`;
  };

  it('exposes every m87_ family with its label sets at zero before anything happened', async () => {
    const text = await (await fetch(await url('/metrics'))).text();
    for (const line of [
      'm87_proposals_total{outcome="ALLOW"} 0',
      'm87_proposals_total{outcome="NEED_MORE_EVIDENCE"} 0',
      'm87_decisions_total{outcome="DENY",rule="secrets",code="READ_SECRETS_FORBIDDEN"} 0',
      'm87_decisions_total{outcome="REQUIRE_HUMAN",rule="topology",code="TOXIC_TOPOLOGY"} 0',
      'm87_proposals_throttled_total 0',
      'm87_decision_duration_seconds_count 0',
      'm87_approvals_total{state="Rejected",reason="SelfApproval"} 0',
      'm87_approval_wait_seconds_count 0',
      'm87_jobs_total{result="Succeeded"} 0',
      'm87_envelope_verifications_total{result="verified"} 0',
      'm87_topology_hits_total{topology="secrets_then_network"} 0',
      'm87_tripwire_hits_total{flag="eval"} 0',
      'm87_leader 0',
      'm87_policy_valid 1',
    ]) {
      expect(text).toContain(line);
    }
  });

  it('counts decisions, findings and hits with bounded labels only', async () => {
    leader = true;
    const reasons = [
      { code: 'TOXIC_TOPOLOGY', rule: 'topology', outcome: 'REQUIRE_HUMAN' as const, message: 'Toxic topology repo_read_then_network (READ_REPO + NETWORK_CALL) for "x".' },
      { code: 'TRIPWIRE', rule: 'tripwires', outcome: 'REQUIRE_HUMAN' as const, message: 'artifacts[0]: tripwire flags eval, os_environ.' },
      { code: 'NOT_A_CODE', rule: 'x', outcome: 'DENY' as const, message: 'evaluate' },
    ];
    const hits = metrics.hitsIn(reasons);
    expect({ ...hits, tripwireFlags: [...hits.tripwireFlags].sort() }).toEqual({ topologies: ['repo_read_then_network'], tripwireFlags: ['eval', 'os_environ'] });
    metrics.decided({ outcome: 'REQUIRE_HUMAN', reasons, durationSeconds: 0.2, ...hits });
    const text = await (await fetch(await url('/metrics'))).text();
    expect(text).toContain('m87_proposals_total{outcome="REQUIRE_HUMAN"} 1');
    expect(text).toContain('m87_topology_hits_total{topology="repo_read_then_network"} 1');
    expect(text).toContain('m87_tripwire_hits_total{flag="os_environ"} 1');
    expect(text).not.toContain('NOT_A_CODE');
    expect(text).toContain('m87_leader 1');
  });

  it('answers other paths 404 and other methods 405; HEAD like GET without a body', async () => {
    expect((await fetch(await url('/nope'))).status).toBe(404);
    const post = await fetch(await url('/metrics'), { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(await url('/healthz'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(await url('/healthz?verbose=1'))).status).toBe(200);
  });

  it('serves /healthz and /readyz (503 with the reason until ready)', async () => {
    expect((await fetch(await url('/healthz'))).status).toBe(200);
    const notReady = await fetch(await url('/readyz'));
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('cache proposals not synced');
    ready = true;
    expect((await fetch(await url('/readyz'))).status).toBe(200);
  });
});
