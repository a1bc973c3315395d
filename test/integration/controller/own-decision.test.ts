// The watch event of a new Decision can reach the controller before the response to its own create of it (the
// API server sends both at once). The reconcile that event triggers finds the Decision in the cache without its
// envelope (compact.ts) and the whole one not yet handed back by the create; it must wait for that response,
// not read the Decision back from the server (an extra request per ALLOW, seen intermittently by the
// request-count test). The fault proxy between the controller and the real API server holds the create's
// response to put the controller exactly there.
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/kube.ts';
import { startFaultProxy } from '../runtime/fault-proxy.ts';
import { admin, caseySpec, DECISIONS, get, JOBS, propose, setupEnv, startTestController } from './harness.ts';

const env = await setupEnv('m87-own-decision');
const proxy = await startFaultProxy(admin);
afterAll(() => proxy.close());
await startTestController(env, { kubeConfig: proxy.kubeConfig });

const decisions = `/apis/governance.m87.io/v1alpha1/namespaces/${env.jobNamespace}/decisions`;
/** The controller's GETs of one Decision (the proxy records every GET that is not a watch). */
const readBacks = (): string[] => proxy.listRequests.filter((path) => path.startsWith(`${decisions}/`));

describe('a Decision whose watch event arrives before the response to its create', () => {
  it('is minted from the create’s response, never read back from the server', async () => {
    proxy.holdResponses((r) => r.method === 'POST' && r.path === decisions);
    await propose(env, 'casey', 'early-event', caseySpec(env));
    // Stored, its create's response held: the controller has seen the watch event only.
    await waitFor(() => get(DECISIONS, env.jobNamespace, 'early-event'), { what: 'the Decision stored', timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the reconciles that event brings
    expect(proxy.held()).toBe(1);
    expect(readBacks(), 'Decision reads while its create is unanswered').toEqual([]);
    expect(await get(JOBS, env.jobNamespace, 'early-event'), 'nothing minted before the create’s answer').toBeUndefined();

    expect(proxy.releaseHeld()).toBe(1);
    await waitFor(() => get(JOBS, env.jobNamespace, 'early-event'), { what: 'the Job minted', timeoutMs: 30_000 });
    expect(readBacks(), 'Decision reads').toEqual([]);
  });
});
