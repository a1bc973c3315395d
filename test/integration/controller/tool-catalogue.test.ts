// The tool catalogue on the real control plane: the controller decides steps against the Tool objects in its
// cache, binds each step's tool hash and image into the signed envelope, and builds a step Pod (each step in
// its tool's image). A Tool deleted or edited after the decision mints nothing (Approved=False, ToolMissing /
// ToolChanged); one edited after the Job was minted but before its Pod started fails the Job (ToolChanged)
// with no Pod; a step naming a tool that is not in the catalogue is denied naming steps[i].tool.
import { afterAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../../../src/api/group.ts';
import { Decision, Job } from '../../../src/api/kinds.ts';
import { NETWORK_POLICIES, PODS, TOOLS } from '../../../src/controller/resources.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath, type KubeObject } from '../../../src/runtime/resource.ts';
import { parseTool } from '../../../src/tool-catalogue/catalogue.ts';
import { GIT_TOOL_IMAGE, SHIPPED_TOOLS } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';
import { waitFor } from '../../support/kube.ts';

import { admin, approve, caseySpec, DECISIONS, get, JOBS, propose, PROPOSALS, setupEnv, startTestController, waitForPhase, type Env } from './harness.ts';

const env: Env = await setupEnv('m87-tools');
let clockOffsetMs = 0;
await startTestController(env, { clock: () => Date.now() + clockOffsetMs });

const PATCH = ['--- a/calc.py', '+++ b/calc.py', '@@ -1,2 +1,2 @@', ' def add(a, b):', '-    return a - b', '+    return a + b', ''].join('\n');
const created: string[] = [];

async function createTool(name: string, spec: unknown = SHIPPED_TOOLS['apply-patch']): Promise<KubeObject> {
  created.push(name);
  return kubeRequest<KubeObject>(admin, { method: 'POST', path: resourcePath(TOOLS, {}), body: { apiVersion: API_VERSION, kind: 'Tool', metadata: { name }, spec } });
}

async function editTool(name: string, edit: (spec: Record<string, unknown>) => void): Promise<void> {
  const tool = await kubeRequest<KubeObject>(admin, { method: 'GET', path: resourcePath(TOOLS, { name }) });
  edit(tool.spec as Record<string, unknown>);
  await kubeRequest(admin, { method: 'PUT', path: resourcePath(TOOLS, { name }), body: tool });
}

afterAll(async () => {
  for (const name of created) await kubeRequest(admin, { method: 'DELETE', path: resourcePath(TOOLS, { name }) }).catch(() => undefined);
});

const patchSpec = (tool: string, overrides: Parameters<typeof caseySpec>[1] = {}) =>
  caseySpec(env, { summary: 'Fix the failing test', steps: [{ tool, args: { patch: PATCH } }], ...overrides });

const condition = (o: KubeObject | undefined, type: string) =>
  ((o?.status as { conditions?: { type: string; status: string; reason: string; message: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

interface PodView extends KubeObject {
  spec: { initContainers?: { name: string; image: string; env?: { name: string; value: string }[] }[]; containers: { name: string; image: string }[] };
}

describe('catalogue → decision → envelope → Job', () => {
  it('binds the Tool object (hash and image) and starts a step Pod running the step in the tool image', async () => {
    const name = `apply-patch-${env.suffix}`;
    await createTool(name);
    await propose(env, 'casey', 'bind-1', patchSpec(name));
    await waitForPhase(env, 'bind-1', ['Approved', 'Running']);
    const decision = Decision.parse(await get(DECISIONS, env.jobNamespace, 'bind-1'));
    expect(decision.spec.outcome).toBe('ALLOW');
    const step = decision.spec.effectiveEnvelope?.steps[0];
    expect(step).toMatchObject({ tool: name, image: GIT_TOOL_IMAGE, toolHash: toolHash(parseTool(name, SHIPPED_TOOLS['apply-patch'])) });

    const job = Job.parse(await waitFor(() => get(JOBS, env.jobNamespace, 'bind-1'), { what: 'job bind-1' }));
    expect(job.spec.envelope.steps[0]).toEqual(step);
    const pod = (await waitFor(() => get(PODS, env.jobNamespace, 'm87-job-bind-1'), { what: 'step Pod of bind-1' })) as PodView;
    expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(['install-runner', 'step-0']);
    const step0 = pod.spec.initContainers?.[1];
    expect(step0?.image).toBe(GIT_TOOL_IMAGE);
    expect(JSON.parse(step0?.env?.find((e) => e.name === 'M87_TOOL_SPEC')?.value ?? '{}')).toEqual(JSON.parse(JSON.stringify(parseTool(name, SHIPPED_TOOLS['apply-patch']))));
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['runner']);
  });

  it('a step naming a tool that is not in the catalogue is denied, naming steps[0].tool', async () => {
    await propose(env, 'casey', 'unknown-1', patchSpec(`no-such-tool-${env.suffix}`));
    await waitForPhase(env, 'unknown-1', ['Denied']);
    const decision = Decision.parse(await get(DECISIONS, env.jobNamespace, 'unknown-1'));
    expect(decision.spec.outcome).toBe('DENY');
    const reason = decision.spec.reasons.find((r) => r.code === 'TOOL_UNKNOWN');
    expect(reason?.message).toContain('steps[0].tool');
    expect(await get(JOBS, env.jobNamespace, 'unknown-1')).toBeUndefined();
  });
});

describe('a tool that changed after the decision never runs', () => {
  it('a decision whose tool was deleted cannot mint (ToolMissing)', async () => {
    const name = `gone-${env.suffix}`;
    await createTool(name);
    await propose(env, 'casey', 'gone-1', patchSpec(name, { riskScore: 0.9 }));
    const waiting = await waitForPhase(env, 'gone-1', ['AwaitingApproval']);
    await kubeRequest(admin, { method: 'DELETE', path: resourcePath(TOOLS, { name }) });
    await waitFor(async () => (await get(TOOLS, undefined, name)) === undefined, { what: `tool ${name} deleted` });
    await approve(env, 'alice', 'gone-1-alice', waiting);
    const refused = await waitFor(async () => {
      const p = await get(PROPOSALS, env.jobNamespace, 'gone-1');
      return condition(p, 'Approved')?.reason === 'ToolMissing' ? p : undefined;
    }, { what: 'gone-1 refused with ToolMissing' });
    expect(condition(refused, 'Approved')).toMatchObject({ status: 'False', reason: 'ToolMissing' });
    expect(condition(refused, 'Approved')?.message).toContain('steps[0].tool');
    expect(await get(JOBS, env.jobNamespace, 'gone-1')).toBeUndefined();
  });

  it('a tool edited between decision and approval mints nothing (ToolChanged)', async () => {
    const name = `edited-${env.suffix}`;
    await createTool(name);
    await propose(env, 'casey', 'edited-1', patchSpec(name, { riskScore: 0.9 }));
    const waiting = await waitForPhase(env, 'edited-1', ['AwaitingApproval']);
    await editTool(name, (spec) => {
      spec.timeoutSeconds = 61;
    });
    await approve(env, 'alice', 'edited-1-alice', waiting);
    const refused = await waitFor(async () => {
      const p = await get(PROPOSALS, env.jobNamespace, 'edited-1');
      return condition(p, 'Approved')?.reason === 'ToolChanged' ? p : undefined;
    }, { what: 'edited-1 refused with ToolChanged' });
    expect(condition(refused, 'Approved')?.message).toContain('steps[0].toolHash');
    expect(await get(JOBS, env.jobNamespace, 'edited-1')).toBeUndefined();
  });

  it('a tool edited after the Job was minted, before its Pod: the Job fails ToolChanged and no Pod starts', async () => {
    const name = `late-${env.suffix}`;
    await createTool(name);
    // Hold the Job before its Pod: a job namespace that does not enforce Pod Security "restricted".
    await kubeRequest(admin, {
      method: 'PATCH',
      path: `/api/v1/namespaces/${env.jobNamespace}`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': null } } },
    });
    clockOffsetMs += 60_000; // past the controller's namespace-check cache
    await propose(env, 'casey', 'late-1', patchSpec(name));
    await waitFor(async () => ((await get(JOBS, env.jobNamespace, 'late-1'))?.status as { reason?: string } | undefined)?.reason === 'NamespaceNotRestricted', {
      what: 'job late-1 held',
    });
    await editTool(name, (spec) => {
      spec.image = spec.image === GIT_TOOL_IMAGE ? (SHIPPED_TOOLS['run-tests']!.image) : GIT_TOOL_IMAGE;
    });
    const failed = await waitFor(async () => {
      const j = await get(JOBS, env.jobNamespace, 'late-1');
      return (j?.status as { phase?: string } | undefined)?.phase === 'Failed' ? j : undefined;
    }, { what: 'job late-1 failed' });
    expect(failed.status).toMatchObject({ phase: 'Failed', reason: 'ToolChanged' });
    expect(await get(PODS, env.jobNamespace, 'm87-job-late-1')).toBeUndefined();
    expect(await get(NETWORK_POLICIES, env.jobNamespace, 'm87-job-late-1')).toBeUndefined();
  });
});
