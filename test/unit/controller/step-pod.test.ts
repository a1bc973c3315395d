import { describe, expect, it } from 'vitest';
import type { EffectiveEnvelope } from '../../../src/api/envelope.ts';
import { buildJobPod, STATE_DIR, stepImageMismatch, WORKSPACE_DIR } from '../../../src/controller/job-pod.ts';
import { canonicalJson } from '../../../src/hash/canonical.ts';
import { DEFAULT_CATALOGUE } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';
import { envelope } from '../runner/fixture.ts';

const bound = (tool: string, args: Record<string, string>) => {
  const spec = DEFAULT_CATALOGUE.get(tool)!;
  return { tool, args, toolHash: toolHash(spec), image: spec.image };
};

function stepPod(env: EffectiveEnvelope) {
  return buildJobPod({
    job: { namespace: 'team-a', name: 'fix', proposalName: 'fix', uid: 'u', envelope: env, envelopeHash: 'd'.repeat(64), signature: 's', keyId: 'k' },
    publicKeyConfigMap: 'key',
    tools: Object.fromEntries(env.steps.map((s) => [s.tool, DEFAULT_CATALOGUE.get(s.tool)!])),
  });
}

describe('step Pod', () => {
  const env = envelope({
    steps: [bound('git-checkout', { repository: 'http://git.example:80/r', commit: 'a'.repeat(40) }), bound('apply-patch', { patch: '--- a/x\n+++ b/x\n' }), bound('run-tests', {}), bound('http-get', { url: 'http://git.example/' })],
  });
  const pod = stepPod(env);
  const inits = pod.spec.initContainers!;

  it('delivers the runner first, then one init container per step in its bound image, then the receipt container', () => {
    expect(inits.map((c) => [c.name, c.image])).toEqual([
      ['install-runner', env.image],
      ['step-0', env.steps[0]!.image],
      ['step-1', env.steps[1]!.image],
      ['step-2', env.steps[2]!.image],
      ['step-3', env.steps[3]!.image],
    ]);
    expect(inits[1]!.command).toEqual(['/m87/lib/ld-linux-x86-64.so.2', '--library-path', '/m87/lib', '/m87/bin/node', '--no-experimental-strip-types', '/m87/app/dist/cli/main.js', 'step', '0']);
    expect(pod.spec.containers.map((c) => [c.name, c.image, c.command])).toEqual([['runner', env.image, ['m87', 'runner']]]);
  });

  it('hands each step the exact tool definition the envelope binds, and the image it runs', () => {
    const envOf = (i: number) => Object.fromEntries(inits[i + 1]!.env.map((e) => [e.name, e.value]));
    expect(toolHash(JSON.parse(envOf(2).M87_TOOL_SPEC!))).toBe(env.steps[2]!.toolHash);
    expect(envOf(2).M87_TOOL_SPEC).toBe(canonicalJson(DEFAULT_CATALOGUE.get('run-tests')));
    expect(envOf(2).M87_TOOL_IMAGE).toBe(env.steps[2]!.image);
  });

  it('mounts the workspace per tool: writable for a checkout or a writing tool, none without workspace; the runner read-only', () => {
    const ws = (i: number) => inits[i + 1]!.volumeMounts.find((m) => m.mountPath === WORKSPACE_DIR);
    expect(ws(0)?.readOnly).toBeUndefined(); // the checkout writes the repository
    expect(ws(1)?.readOnly).toBeUndefined(); // apply-patch: access writable
    expect(ws(3)).toBeUndefined(); // http-get: access none
    for (const c of inits.slice(1)) expect(c.volumeMounts.find((m) => m.mountPath === '/m87')?.readOnly).toBe(true);
    expect(pod.spec.containers[0]!.volumeMounts.find((m) => m.mountPath === STATE_DIR)?.readOnly).toBe(true);
    expect(pod.spec.containers[0]!.volumeMounts.some((m) => m.mountPath === WORKSPACE_DIR)).toBe(false);
  });

  it('no credentials, non-root, read-only root in every container', () => {
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    for (const c of [...inits, ...pod.spec.containers]) expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
  });

  it('a read-only tool gets the workspace read-only', () => {
    const readOnlyTool = { ...DEFAULT_CATALOGUE.get('run-tests')!, workspace: { access: 'readOnly' as const, outputs: [] } };
    const step = { tool: 'lint', args: {}, toolHash: toolHash(readOnlyTool), image: readOnlyTool.image };
    const p = buildJobPod({
      job: { namespace: 'team-a', name: 'x', proposalName: 'x', uid: 'u', envelope: envelope({ steps: [step] }), envelopeHash: 'd'.repeat(64), signature: 's', keyId: 'k' },
      publicKeyConfigMap: 'key',
      tools: { lint: readOnlyTool },
    });
    expect(p.spec.initContainers![1]!.volumeMounts.find((m) => m.mountPath === WORKSPACE_DIR)?.readOnly).toBe(true);
  });
});

describe('stepImageMismatch', () => {
  const env = envelope({ steps: [bound('run-tests', {}), bound('apply-patch', { patch: '--- a/x\n+++ b/x\n' })] });
  const pod = stepPod(env);
  const ran = (i: number, imageID: string) => ({ name: `step-${i}`, image: env.steps[i]!.image, imageID });
  const digest = (i: number) => env.steps[i]!.image!.slice(env.steps[i]!.image!.indexOf('@'));

  it('accepts a Pod whose steps ran the bound digests (or never started)', () => {
    expect(stepImageMismatch({ ...pod, status: { initContainerStatuses: [ran(0, `m87.local/tool-python-pytest${digest(0)}`)] } }, env)).toBeUndefined();
    expect(stepImageMismatch({ ...pod, status: { initContainerStatuses: [ran(0, env.steps[0]!.image!), ran(1, `other.registry/x${digest(1)}`)] } }, env)).toBeUndefined();
  });

  it('skips a step the real kubelet lists as still waiting with no imageID (never started after an earlier step failed)', () => {
    const waiting = { name: 'step-1', image: env.steps[1]!.image, imageID: '', state: { waiting: { reason: 'PodInitializing' } } };
    expect(stepImageMismatch({ ...pod, status: { initContainerStatuses: [ran(0, `m87.local/tool-python-pytest${digest(0)}`), waiting] } }, env)).toBeUndefined();
    // Waiting but an image was reported, or it terminated before: it ran, so the image is checked.
    const reported = { ...waiting, imageID: `m87.local/evil@sha256:${'9'.repeat(64)}` };
    expect(stepImageMismatch({ ...pod, status: { initContainerStatuses: [ran(0, env.steps[0]!.image!), reported] } }, env)).toMatch(/^step-1: ran image/);
    const ranBefore = { ...waiting, lastState: { terminated: { exitCode: 0 } } };
    expect(stepImageMismatch({ ...pod, status: { initContainerStatuses: [ran(0, env.steps[0]!.image!), ranBefore] } }, env)).toMatch(/^step-1: ran image \(none reported\)/);
    // Terminated with no imageID: it ran, and what it ran is unknown.
    const terminated = { name: 'step-1', image: env.steps[1]!.image, imageID: '', state: { terminated: { exitCode: 0 } } };
    expect(stepImageMismatch({ ...pod, status: { initContainerStatuses: [ran(0, env.steps[0]!.image!), terminated] } }, env)).toMatch(/none reported/);
  });

  it('refuses an image swapped in the spec, a different digest run, or none reported', () => {
    const swapped = { ...pod, spec: { ...pod.spec, initContainers: pod.spec.initContainers!.map((c) => (c.name === 'step-1' ? { ...c, image: `evil/x@sha256:${'9'.repeat(64)}` } : c)) } };
    expect(stepImageMismatch(swapped, env)).toMatch(/^step-1: spec image/);
    expect(stepImageMismatch({ ...pod, status: { initContainerStatuses: [ran(0, `m87.local/tool-python-pytest@sha256:${'9'.repeat(64)}`)] } }, env)).toMatch(/^step-0: ran image/);
    expect(stepImageMismatch({ ...pod, status: { initContainerStatuses: [ran(0, '')] } }, env)).toMatch(/none reported/);
  });
});
